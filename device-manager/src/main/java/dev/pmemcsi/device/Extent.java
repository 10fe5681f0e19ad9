package dev.pmemcsi.device;

/** A contiguous byte range of a region: {@code [offset, offset + length)}. */
public record Extent(long offset, long length) implements Comparable<Extent> {

    public Extent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("bad extent " + offset + "+" + length);
        }
    }

    public long end() {
        return offset + length;
    }

    public boolean overlaps(Extent o) {
        return offset < o.end() && o.offset < end();
    }

    @Override
    public int compareTo(Extent o) {
        return Long.compare(offset, o.offset);
    }
}
