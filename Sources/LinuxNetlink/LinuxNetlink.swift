/// Netlink from Swift: rtnetlink links, addresses and routes through libnl-route, nftables
/// through libnftnl + libmnl, conntrack through libmnl. Linux facts stay in this module and in
/// LinuxPrimitives; higher modules speak in their own terms.
public enum LinuxNetlink {}
