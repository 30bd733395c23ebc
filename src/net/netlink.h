/* libnl-route-3 sockets bound to a chosen network namespace, libnl error
 * translation, and host facts read over netlink (the default-route uplink). */
#pragma once

#include <netlink/netlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/object.h>
#include <netlink/socket.h>

#include "spec/spec.h"
#include "util/error.h"

/* A NETLINK_ROUTE socket living in the namespace of netns_fd (-1: the caller's).
 * The calling thread enters the namespace only for the socket() call and then
 * returns, so this is safe in a multi-threaded daemon (setns of a network
 * namespace is per thread). */
int net_nl_open(int netns_fd, struct nl_sock **ret, tank_error **err);

/* The positive errno closest to a libnl error code (NLE_*), for tank_error. */
int net_nl_errno(int nlerr);
/* tank_error_set with a libnl error code: "<what>: <libnl message>". */
int net_nl_error(tank_error **err, int nlerr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An nl_addr (with prefix length) from a spec_ip; NULL on allocation failure. */
struct nl_addr *net_nl_addr(const struct spec_ip *ip);

/* The interface index of `name` in the socket's namespace; -ENODEV when absent. */
int net_link_index(struct nl_sock *sk, const char *name, int *ret_ifindex, tank_error **err);

/* The interface of the default route (IPv4 first, then IPv6) in the socket's
 * namespace, written into ret_name (IFNAMSIZ bytes). */
int net_default_uplink(struct nl_sock *sk, char ret_name[16], tank_error **err);

/* Adds (or replaces) an address on a link; IPv6 ones without duplicate
 * address detection. nicname only labels errors. */
int net_addr_add(struct nl_sock *sk, int ifindex, const char *nicname, const struct spec_ip *ip,
                 tank_error **err);
/* Adds (or replaces) a main-table route to dst (with prefix) through the link,
 * via a gateway or on-link when via is NULL. */
int net_route_add(struct nl_sock *sk, int ifindex, const char *nicname, const struct spec_ip *dst,
                  const struct spec_ip *via, tank_error **err);

/* Raises (or lowers) a link by index. */
int net_link_set_up(struct nl_sock *sk, int ifindex, bool up, tank_error **err);

static inline void
net_nl_sock_freep(struct nl_sock **sk)
{
  if (*sk)
    nl_socket_free(*sk);
}
#define _cleanup_nl_sock_ __attribute__((cleanup(net_nl_sock_freep)))

static inline void
net_nl_addr_putp(struct nl_addr **a)
{
  if (*a)
    nl_addr_put(*a);
}
#define _cleanup_nl_addr_ __attribute__((cleanup(net_nl_addr_putp)))

static inline void
net_nl_cache_freep(struct nl_cache **c)
{
  if (*c)
    nl_cache_free(*c);
}
#define _cleanup_nl_cache_ __attribute__((cleanup(net_nl_cache_freep)))

static inline void
net_nl_object_putp(void *p)
{
  struct nl_object **o = p;
  if (*o)
    nl_object_put(*o);
}
#define _cleanup_nl_object_ __attribute__((cleanup(net_nl_object_putp)))
