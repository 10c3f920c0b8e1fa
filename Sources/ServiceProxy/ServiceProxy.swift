/// Services and EndpointSlices -> the desired nftables objects -> one incremental netlink batch.
public enum ServiceProxy {}
