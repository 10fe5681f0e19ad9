# shellcheck shell=bash
# Host preparation: packages, the guest kernel, the initramfs, the Maven build and the NVDIMM images.

E2E_PACKAGES=(qemu-system-x86 qemu-utils ndctl daxctl xfsprogs e2fsprogs busybox-static cpio kmod jq
              libndctl6 libdaxctl1 iproute2 procps lvm2)
APT_UPDATED=0

apt_update_once() {
    if (( APT_UPDATED == 0 )); then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

prepare_packages() {
    local -a missing=()
    local p
    for p in "${E2E_PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    [[ -x $JAVA_HOME/bin/java ]] || missing+=(openjdk-17-jdk-headless)
    command -v mvn > /dev/null || missing+=(maven)
    if (( ${#missing[@]} == 0 )); then
        return 0
    fi
    log "installing: ${missing[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The ABI-numbered kernel package changes and old ones leave the mirror: always resolve it through the
# linux-image-amd64 metapackage.
resolve_kernel_package() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [[ -z $pkg ]]; then
        apt_update_once
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [[ -n $pkg ]] || { echo "cannot resolve linux-image-amd64 to a kernel package" >&2; return 1; }
    echo "$pkg"
}

prepare_kernel() {
    local pkg tmp
    pkg=$(resolve_kernel_package)
    KVER=${pkg#linux-image-}
    KROOT=$E2E_CACHE_DIR/kernel/$KVER
    KERNEL=$KROOT/boot/vmlinuz-$KVER
    KMODDIR=$KROOT/lib/modules/$KVER
    if [[ -f $KROOT/.complete ]]; then
        log "kernel $KVER (cached in $KROOT)"
        return 0
    fi
    log "fetching $pkg"
    tmp=$(mktemp -d "$E2E_CACHE_DIR/tmp.XXXXXX")
    if ! (cd "$tmp" && apt-get download -q "$pkg"); then
        # A stale package list names a version the mirror no longer has.
        apt_update_once
        pkg=$(resolve_kernel_package)
        (cd "$tmp" && apt-get download -q "$pkg")
        KVER=${pkg#linux-image-}
        KROOT=$E2E_CACHE_DIR/kernel/$KVER
        # shellcheck disable=SC2034 # vm.sh boots them
        KERNEL=$KROOT/boot/vmlinuz-$KVER
        # shellcheck disable=SC2034
        KMODDIR=$KROOT/lib/modules/$KVER
    fi
    dpkg -x "$tmp"/*.deb "$tmp/root"
    depmod -b "$tmp/root" "$KVER"
    rm -rf "$KROOT"
    mkdir -p "$(dirname "$KROOT")"
    mv "$tmp/root" "$KROOT"
    rm -rf "$tmp"
    touch "$KROOT/.complete"
    # Only the current kernel is worth keeping.
    find "$E2E_CACHE_DIR/kernel" -mindepth 1 -maxdepth 1 ! -name "$KVER" -exec rm -rf {} +
    find "$E2E_CACHE_DIR" -maxdepth 1 -name 'initramfs-*' ! -name "initramfs-$KVER-*" -delete
    log "kernel $KVER extracted to $KROOT"
}

# Just enough to reach the host root over 9p; everything else is modprobed later from the real tree.
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

prepare_initramfs() {
    local key tmp m ko
    key=$(cat "$E2E_QEMU_DIR/initramfs/init" /bin/busybox | sha256sum | cut -c1-16)
    INITRD=$E2E_CACHE_DIR/initramfs-$KVER-$key.cpio.gz
    if [[ -f $INITRD ]]; then
        log "initramfs $(basename "$INITRD") (cached)"
        return 0
    fi
    tmp=$(mktemp -d "$E2E_CACHE_DIR/tmp.XXXXXX")
    mkdir -p "$tmp"/{bin,dev,proc,sys,mods}
    cp /bin/busybox "$tmp/bin/busybox"
    cp "$E2E_QEMU_DIR/initramfs/init" "$tmp/init"
    chmod 755 "$tmp/init"
    for m in "${INITRAMFS_MODULES[@]}"; do
        modprobe -d "$KROOT" -S "$KVER" --ignore-install --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r ko; do
        cp "$ko" "$tmp/mods/"
        basename "$ko" >> "$tmp/mods/order"
    done
    [[ -s $tmp/mods/order ]] || { echo "no modules for the initramfs" >&2; rm -rf "$tmp"; return 1; }
    (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    log "initramfs $(basename "$INITRD"): $(du -h "$INITRD" | cut -f1), modules: $(tr '\n' ' ' < "$tmp/mods/order")"
    rm -rf "$tmp"
}

# The guest runs what Maven built on the host (it sees the host root read-only at the same paths).
prepare_build() {
    local -a modules=(:e2e)
    if [[ -d $E2E_REPO/driver-app/src/main/java ]]; then
        modules+=(:driver-app)
    fi
    if [[ -d $E2E_REPO/tests/driver/src/test/java ]]; then
        modules+=(:driver-tests)
    fi
    if [[ $E2E_BENCHMARKS == 1 ]]; then
        modules+=(:benchmarks)
    fi
    if [[ $E2E_BUILD == 1 ]]; then
        log "mvn install -DskipTests for: ${modules[*]} (and what they need)"
        (IFS=,; mvn -B -q -Dstyle.color=never -f "$E2E_REPO/pom.xml" -pl "${modules[*]}" -am install -DskipTests)
    fi
    [[ -f $E2E_CONSOLE_LAUNCHER && -f $E2E_TOOLS/test-classpath.txt && -d $E2E_TEST_CLASSES ]] || {
        echo "e2e is not built: run 'mvn -pl :e2e -am install -DskipTests' or leave E2E_BUILD=1" >&2
        return 1
    }
    # The package phase of benchmarks copies its runtime dependencies, the project's modules among them, to target/lib.
    if [[ $E2E_BENCHMARKS == 1 && ! ( -f $E2E_BENCHMARKS_JAR && -d $E2E_REPO/tests/benchmarks/target/lib ) ]]; then
        echo "E2E_BENCHMARKS=1 but the benchmarks are not built: run 'mvn -pl :benchmarks -am package -DskipTests' or leave E2E_BUILD=1" >&2
        return 1
    fi
    # The project's own modules come from their target/ directories, not from the local Maven
    # repository: the guest then runs exactly this working tree, whatever else was installed since.
    # shellcheck disable=SC2034 # written to the guest's config by config.sh
    E2E_TEST_CLASSPATH=$(project_classes_from_target "$E2E_TOOLS/test-classpath.txt")
    E2E_RELIABILITY_CLASSPATH=
    if [[ -d $E2E_RELIABILITY_CLASSES && -f $E2E_RELIABILITY_CLASSPATH_FILE ]]; then
        E2E_RELIABILITY_CLASSPATH=$(project_classes_from_target "$E2E_RELIABILITY_CLASSPATH_FILE")
    fi
    # The driver's AppCDS archive: every driver the guest's whole-driver tests start maps it, as a
    # deployed driver does, so that under TCG its classes load from the archive. bin/build-cds does
    # nothing when the archive is current.
    if driver_available; then
        PMEM_CSI_JAR=$E2E_DRIVER_JAR "$E2E_REPO/bin/build-cds" || log "no AppCDS archive: the guest's drivers start without one"
    fi
}

# A classpath written by dependency:build-classpath, with the project's own jars from the local Maven
# repository replaced by their modules' target/ directories.
project_classes_from_target() {
    tr ':' '\n' < "$1" | sed -E \
        -e "s#^.*/dev/pmemcsi/([^/]+)/[^/]+/[^/]+-tests\.jar\$#$E2E_REPO/\1/target/test-classes#" \
        -e "s#^.*/dev/pmemcsi/([^/]+)/[^/]+/[^/]+\.jar\$#$E2E_REPO/\1/target/classes#" | paste -sd:
}

# Are the whole-driver tests built? They need the driver, too.
reliability_available() {
    [[ -n ${E2E_RELIABILITY_CLASSPATH:-} ]] && driver_available
}

# Is there a driver to start? A jar without the main class is the empty module, not a driver.
# grep reads the whole listing: with -q it would stop at the match and, under pipefail, unzip's
# SIGPIPE would turn a found class into "no driver".
driver_available() {
    [[ -f $E2E_DRIVER_JAR ]] && unzip -Z1 "$E2E_DRIVER_JAR" 2>/dev/null | grep -x 'dev/pmemcsi/app/Main.class' > /dev/null
}

to_bytes() { numfmt --from=iec "$1"; }

# QEMU maps (file size - label size) of each file as PMEM and packs the next DIMM right behind it:
# padding each file by the label size keeps every region the full size and 16M-aligned. Label-less
# NVDIMMs have no label area; the e820 shape has no NVDIMM at all (its PMEM is guest RAM).
prepare_images() {
    local i label=0
    rm -rf "$E2E_IMAGES"
    mkdir -p "$E2E_IMAGES"
    if [[ $E2E_SHAPE == e820 ]]; then
        NVDIMM_FILE_BYTES=0
        log "e820 PMEM (memmap=${E2E_E820_MEMMAP// / memmap=}): no NVDIMM images"
        return 0
    fi
    if [[ $E2E_SHAPE == cxl ]]; then
        NVDIMM_FILE_BYTES=0
        truncate -s "$E2E_CXL_SIZE" "$E2E_IMAGES/cxl0.img"
        truncate -s "$E2E_CXL_LSA_SIZE" "$E2E_IMAGES/cxl0-lsa.img"
        log "CXL type-3 device image of $E2E_CXL_SIZE + $E2E_CXL_LSA_SIZE label storage in $E2E_IMAGES"
        return 0
    fi
    [[ $E2E_SHAPE == labelled ]] && label=$(to_bytes "$E2E_LABEL_SIZE")
    NVDIMM_FILE_BYTES=$(( $(to_bytes "$E2E_NVDIMM_SIZE") + label ))
    if [[ -n $E2E_IMAGES_FROM ]]; then
        # A reboot: the same DIMMs, with whatever the last boot left on them.
        for (( i = 0; i < E2E_NVDIMMS; i++ )); do
            [[ $(stat -c %s "$E2E_IMAGES_FROM/nvdimm$i.img" 2>/dev/null) == "$NVDIMM_FILE_BYTES" ]] || {
                log "E2E_IMAGES_FROM: $E2E_IMAGES_FROM/nvdimm$i.img is missing or not $NVDIMM_FILE_BYTES bytes"; return 1; }
            mv "$E2E_IMAGES_FROM/nvdimm$i.img" "$E2E_IMAGES/nvdimm$i.img"
        done
        log "$E2E_NVDIMMS NVDIMM images of the last boot, from $E2E_IMAGES_FROM"
        return 0
    fi
    for (( i = 0; i < E2E_NVDIMMS; i++ )); do
        truncate -s "$NVDIMM_FILE_BYTES" "$E2E_IMAGES/nvdimm$i.img"
    done
    if [[ $E2E_SHAPE == labelled ]]; then
        log "$E2E_NVDIMMS NVDIMM images of $E2E_NVDIMM_SIZE + $E2E_LABEL_SIZE labels in $E2E_IMAGES"
    else
        log "$E2E_NVDIMMS label-less NVDIMM images of $E2E_NVDIMM_SIZE in $E2E_IMAGES"
    fi
}
