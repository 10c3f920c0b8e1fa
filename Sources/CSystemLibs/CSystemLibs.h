// The system C libraries Swiftlet links: libnl-3 (+route), libnftnl, libmnl, libseccomp, libcap.
// Include order matters: glibc's socket/in/if headers must come before any <linux/...> header,
// or the kernel UAPI headers redefine in_addr and IPPROTO_* and the module fails to build.
#ifndef SWIFTLET_CSYSTEMLIBS_H
#define SWIFTLET_CSYSTEMLIBS_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <arpa/inet.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/gen.h>
#include <libnftnl/common.h>

#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/neighbour.h>

#include <seccomp.h>
#include <sys/capability.h>

// Function-like macros do not import into Swift; these wrap the few Swiftlet needs.
static inline uint32_t swiftlet_scmp_act_errno(uint32_t e) { return SCMP_ACT_ERRNO(e); }
static inline uint32_t swiftlet_scmp_act_trace(uint32_t m) { return SCMP_ACT_TRACE(m); }

#endif
