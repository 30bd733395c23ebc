/* IPAM over the store seam. An allocation is a key created only if absent
 * (expect_rev TANK_STORE_REV_ABSENT): when two allocators pick one address, the
 * store lets exactly one create it and the other moves to the next candidate. */
#include "net/ipam.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "util/cleanup.h"

void
ipam_pool_clear(struct ipam_pool *p)
{
  free(p->name);
  free(p->dns);
  free(p->reserved);
  memset(p, 0, sizeof *p);
}

static bool
is_label(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

/* The first and last address handed out. */
static void
pool_bounds(const struct ipam_pool *p, struct spec_ip *first, struct spec_ip *last)
{
  if (p->has_range) {
    *first = p->range_start;
    *last = p->range_end;
    return;
  }
  net_ip_network(&p->subnet, first);
  *last = *first;
  size_t len = net_ip_len(p->subnet.family);
  for (size_t i = 0; i < len; i++) {
    unsigned bits = p->subnet.prefix > i * 8 ? p->subnet.prefix - i * 8 : 0;
    uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
    last->addr[i] |= (uint8_t)~mask;
  }
  /* The network address (IPv4: by convention; IPv6: the subnet-router anycast)
   * and the IPv4 broadcast are never a host's. /31 and /32 have neither (RFC 3021). */
  unsigned host_bits = len * 8 - p->subnet.prefix;
  if (host_bits >= 2) {
    net_ip_add(first, 1);
    if (p->subnet.family == AF_INET) {
      struct spec_ip one_less = *first;
      net_ip_network(&p->subnet, &one_less);
      /* last - 1: walk from the network address by size - 2. */
      uint64_t size_minus_2 = (host_bits >= 64 ? UINT64_MAX : (UINT64_C(1) << host_bits)) - 2;
      net_ip_add(&one_less, size_minus_2);
      *last = one_less;
    }
  }
  first->prefix = last->prefix = p->subnet.prefix;
}

int
ipam_pool_validate(const struct ipam_pool *p, tank_error **err)
{
  char a[NET_IP_STRLEN];
  if (!is_label(p->name))
    return tank_error_set(err, EINVAL, "ipam pool `%s`: the name is not a DNS label",
                          p->name ? p->name : "");
  if (p->subnet.family != AF_INET && p->subnet.family != AF_INET6)
    return tank_error_set(err, EINVAL, "ipam pool `%s`: no subnet", p->name);
  if (p->n_reserved > IPAM_MAX_RESERVED || p->n_dns > IPAM_MAX_DNS)
    return tank_error_set(err, E2BIG, "ipam pool `%s`: more than %d reserved or %d dns entries",
                          p->name, IPAM_MAX_RESERVED, IPAM_MAX_DNS);
  if (p->has_range) {
    if (!net_ip_in_subnet(&p->range_start, &p->subnet)
        || !net_ip_in_subnet(&p->range_end, &p->subnet))
      return tank_error_set(err, EINVAL, "ipam pool `%s`: the range is not inside subnet %s",
                            p->name, net_ip_format(&p->subnet, true, a));
    if (net_ip_compare(&p->range_start, &p->range_end) > 0)
      return tank_error_set(err, EINVAL, "ipam pool `%s`: the range ends before it starts",
                            p->name);
  }
  if (p->has_gateway && !net_ip_in_subnet(&p->gateway, &p->subnet))
    return tank_error_set(err, EINVAL, "ipam pool `%s`: gateway %s is not in subnet %s", p->name,
                          net_ip_format(&p->gateway, false, a),
                          net_ip_format(&p->subnet, true, (char[NET_IP_STRLEN]){ 0 }));
  for (size_t i = 0; i < p->n_reserved; i++)
    if (p->reserved[i].family != p->subnet.family)
      return tank_error_set(err, EINVAL, "ipam pool `%s`: reserved[%zu] is of another family",
                            p->name, i);
  return 0;
}

static char *
owner_of(const char *pod, const char *nic)
{
  char *s = NULL;
  if (asprintf(&s, "%s/%s", pod, nic) < 0)
    abort();
  return s;
}

static char *
pool_prefix(const char *pool)
{
  char *s = NULL;
  if (asprintf(&s, IPAM_PREFIX "%s/", pool) < 0)
    abort();
  return s;
}

static int
cmp_ip(const void *a, const void *b)
{
  return net_ip_compare(a, b);
}

/* The pool's allocations, parsed and sorted; *ret_mine the entry owned by owner. */
struct taken {
  struct spec_ip *ips;
  size_t n;
  bool has_mine;
  struct spec_ip mine;
};

static int
read_taken(tank_store *s, const struct ipam_pool *p, const char *owner, struct taken *ret,
           tank_error **err)
{
  _cleanup_free_ char *prefix = pool_prefix(p->name);
  struct tank_store_list list = { 0 };
  struct taken t = { 0 };

  if (tank_store_list(s, prefix, &list, err) < 0)
    return tank_error_wrap(err, "ipam pool `%s`: list allocations", p->name);
  if (list.n_items > IPAM_MAX_ALLOCATIONS) {
    tank_store_list_clear(&list);
    return tank_error_set(err, E2BIG, "ipam pool `%s`: more than %d allocations in the store",
                          p->name, IPAM_MAX_ALLOCATIONS);
  }
  t.ips = calloc(list.n_items + 1, sizeof *t.ips);
  if (t.ips == NULL)
    abort();
  size_t plen = strlen(prefix);
  for (size_t i = 0; i < list.n_items; i++) {
    struct spec_ip ip;
    if (net_ip_parse(list.items[i].key + plen, false, &ip) < 0)
      continue; /* not ours to judge: skip keys that are not addresses */
    t.ips[t.n++] = ip;
    if (owner && strcmp((const char *)list.items[i].value, owner) == 0) {
      t.has_mine = true;
      t.mine = ip;
    }
  }
  tank_store_list_clear(&list);
  qsort(t.ips, t.n, sizeof *t.ips, cmp_ip);
  *ret = t;
  return 0;
}

static bool
excluded(const struct ipam_pool *p, const struct taken *t, const struct spec_ip *ip)
{
  if (p->has_gateway && net_ip_equal(&p->gateway, ip))
    return true;
  for (size_t i = 0; i < p->n_reserved; i++)
    if (net_ip_equal(&p->reserved[i], ip))
      return true;
  struct spec_ip key = *ip;
  key.prefix = net_ip_len(ip->family) * 8; /* parsed keys carry the full length */
  return bsearch(&key, t->ips, t->n, sizeof *t->ips, cmp_ip) != NULL;
}

int
ipam_lookup(tank_store *s, const struct ipam_pool *p, const char *pod, const char *nic,
            struct spec_ip *ret, tank_error **err)
{
  _cleanup_free_ char *owner = owner_of(pod, nic);
  struct taken t;
  int r = read_taken(s, p, owner, &t, err);
  if (r < 0)
    return r;
  free(t.ips);
  if (!t.has_mine)
    return 0;
  *ret = t.mine;
  ret->prefix = p->subnet.prefix;
  return 1;
}

int
ipam_allocate(tank_store *s, const struct ipam_pool *p, const char *pod, const char *nic,
              struct spec_ip *ret, tank_error **err)
{
  _cleanup_free_ char *owner = owner_of(pod, nic);
  struct spec_ip first, last, cand;
  char a[NET_IP_STRLEN];
  struct taken t;
  int vr;

  if ((vr = ipam_pool_validate(p, err)) < 0 || (vr = read_taken(s, p, owner, &t, err)) < 0)
    return vr;
  if (t.has_mine) {
    free(t.ips);
    *ret = t.mine;
    ret->prefix = p->subnet.prefix;
    return 0;
  }
  pool_bounds(p, &first, &last);
  cand = first;
  uint64_t size = net_ip_diff(&last, &first);
  size = size == UINT64_MAX ? size : size + 1;
  for (;;) {
    if (!excluded(p, &t, &cand)) {
      _cleanup_free_ char *key = NULL;
      if (asprintf(&key, IPAM_PREFIX "%s/%s", p->name, net_ip_format(&cand, false, a)) < 0)
        abort();
      tank_error *perr = NULL;
      int r = tank_store_put(s, key, owner, strlen(owner), TANK_STORE_REV_ABSENT, NULL, &perr);
      if (r == 0) {
        free(t.ips);
        *ret = cand;
        ret->prefix = p->subnet.prefix;
        return 0;
      }
      if (perr->errnum != TANK_STORE_ECONFLICT) {
        free(t.ips);
        if (err && *err == NULL)
          *err = perr;
        else
          tank_error_free(perr);
        return tank_error_wrap(err, "ipam pool `%s`: allocate for %s", p->name, owner);
      }
      /* Another allocator took it a moment ago: it is taken, try the next one. */
      tank_error_free(perr);
    }
    if (net_ip_compare(&cand, &last) >= 0 || !net_ip_add(&cand, 1))
      break;
  }
  free(t.ips);
  if (size == UINT64_MAX)
    return tank_error_set(err, ENOSPC, "ipam pool `%s` exhausted: no free address for %s", p->name,
                          owner);
  return tank_error_set(err, ENOSPC, "ipam pool `%s` exhausted: all %llu addresses in use (%s)",
                        p->name, (unsigned long long)size, owner);
}

int
ipam_release(tank_store *s, const char *pod, size_t *ret_released, tank_error **err)
{
  struct tank_store_list list = { 0 };
  size_t released = 0, podlen = strlen(pod);

  if (tank_store_list(s, IPAM_PREFIX, &list, err) < 0)
    return tank_error_wrap(err, "ipam: release pod `%s`: list allocations", pod);
  for (size_t i = 0; i < list.n_items; i++) {
    const struct tank_store_kv *kv = &list.items[i];
    if (kv->value_len <= podlen || memcmp(kv->value, pod, podlen) != 0 || kv->value[podlen] != '/')
      continue;
    tank_error *derr = NULL;
    if (tank_store_delete(s, kv->key, kv->mod_rev, NULL, &derr) < 0) {
      int e = derr->errnum;
      if (e == TANK_STORE_ENOTFOUND || e == TANK_STORE_ECONFLICT) {
        tank_error_free(derr); /* gone or re-taken meanwhile: not ours any more */
        continue;
      }
      tank_store_list_clear(&list);
      if (err && *err == NULL)
        *err = derr;
      else
        tank_error_free(derr);
      return tank_error_wrap(err, "ipam: release pod `%s`", pod);
    }
    released++;
  }
  tank_store_list_clear(&list);
  if (ret_released)
    *ret_released = released;
  return 0;
}

int
ipam_fill_nic(tank_store *s, const struct ipam_pool *p, const char *pod, struct net_config *c,
              size_t nic_index, tank_error **err)
{
  struct net_nic *nic = &c->nics[nic_index];
  struct spec_ip ip;

  if (ipam_allocate(s, p, pod, nic->name, &ip, err) < 0 || net_nic_add_ip(nic, &ip, err) < 0)
    return tank_error_wrap(err, "pod `%s`: nic `%s`", pod, nic->name);
  if (p->has_gateway) {
    if (p->gateway.family == AF_INET && !nic->has_gw4) {
      nic->has_gw4 = true;
      nic->gw4 = p->gateway;
    } else if (p->gateway.family == AF_INET6 && !nic->has_gw6) {
      nic->has_gw6 = true;
      nic->gw6 = p->gateway;
    }
  }
  if (!c->has_dns && p->n_dns) {
    c->dns = calloc(p->n_dns, sizeof *c->dns);
    if (c->dns == NULL)
      abort();
    memcpy(c->dns, p->dns, p->n_dns * sizeof *c->dns);
    c->n_dns = p->n_dns;
    c->has_dns = true;
  }
  return 0;
}
