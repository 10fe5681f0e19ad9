package dev.pmemcsi.app.client;

import dev.pmemcsi.app.Endpoint;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.util.concurrent.TimeUnit;

/** A client channel to a driver endpoint, Unix socket or TCP, that releases its threads on close. */
public final class Channels implements AutoCloseable {

    private final ManagedChannel channel;
    private final EventLoopGroup group;

    private Channels(ManagedChannel channel, EventLoopGroup group) {
        this.channel = channel;
        this.group = group;
    }

    public static Channels open(String endpoint) {
        Endpoint e = Endpoint.parse(endpoint);
        if (e instanceof Endpoint.Unix unix) {
            EventLoopGroup group = new EpollEventLoopGroup(1);
            ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(unix.path().toString()))
                    .channelType(EpollDomainSocketChannel.class)
                    .eventLoopGroup(group)
                    .usePlaintext()
                    .build();
            return new Channels(ch, group);
        }
        Endpoint.Tcp tcp = (Endpoint.Tcp) e;
        return new Channels(NettyChannelBuilder.forAddress(tcp.host(), tcp.port()).usePlaintext().build(), null);
    }

    public ManagedChannel channel() {
        return channel;
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        if (group != null) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }
}
