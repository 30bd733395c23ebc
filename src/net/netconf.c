/* The pod network configuration: built from the spec, validated against the
 * limits and rules the kernel would otherwise report less clearly, released. */
#include "net/netconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "util/cleanup.h"
#include "util/strv.h"

static void
nic_clear(struct net_nic *nic)
{
  free(nic->name);
  free(nic->parent);
  free(nic->ips);
  free(nic->routes);
  memset(nic, 0, sizeof *nic);
}

void
net_config_clear(struct net_config *c)
{
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->n_nics; i++)
    nic_clear(&c->nics[i]);
  free(c->nics);
  free(c->dns);
  strv_free_n(c->search, c->n_search);
  strv_free_n(c->options, c->n_options);
  memset(c, 0, sizeof *c);
}

int
net_nic_add_ip(struct net_nic *nic, const struct spec_ip *ip, tank_error **err)
{
  if (nic->n_ips >= NET_MAX_IPS_PER_NIC)
    return tank_error_set(err, E2BIG, "nic `%s`: more than %d addresses", nic->name,
                          NET_MAX_IPS_PER_NIC);
  struct spec_ip *v = reallocarray(nic->ips, nic->n_ips + 1, sizeof *v);
  if (v == NULL)
    return tank_error_set(err, ENOMEM, "nic `%s`: add address", nic->name);
  nic->ips = v;
  nic->ips[nic->n_ips++] = *ip;
  return 0;
}

static char *
xstrdup_or_null(const char *s)
{
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  if (d == NULL)
    abort();
  return d;
}

int
net_config_from_spec(const struct spec_network *sn, struct net_config *ret, tank_error **err)
{
  struct net_config c = { .mode = sn->mode, .has_dns = sn->has_dns };

  if (sn->n_nics > NET_MAX_NICS)
    return tank_error_set(err, E2BIG, "network: more than %d nics", NET_MAX_NICS);
  if (sn->n_dns > NET_MAX_DNS)
    return tank_error_set(err, E2BIG, "network: more than %d dns servers", NET_MAX_DNS);
  if (sn->n_nics) {
    c.nics = calloc(sn->n_nics, sizeof *c.nics);
    if (c.nics == NULL)
      abort();
  }
  for (size_t i = 0; i < sn->n_nics; i++) {
    const struct spec_nic *s = &sn->nics[i];
    struct net_nic *n = &c.nics[c.n_nics++];
    n->name = xstrdup_or_null(s->name);
    n->parent = xstrdup_or_null(s->parent);
    n->macvlan_mode = s->macvlan_mode;
    n->has_mac = s->has_mac;
    memcpy(n->mac, s->mac, 6);
    for (size_t j = 0; j < s->n_ips; j++) {
      int r = net_nic_add_ip(n, &s->ips[j], err);
      if (r < 0) {
        net_config_clear(&c);
        return r;
      }
    }
    n->mtu = s->mtu;
    if (s->n_routes > NET_MAX_ROUTES) {
      net_config_clear(&c);
      return tank_error_set(err, E2BIG, "network: nic %s: more than %d routes", s->name,
                            NET_MAX_ROUTES);
    }
    if (s->n_routes) {
      n->routes = calloc(s->n_routes, sizeof *n->routes);
      if (n->routes == NULL)
        abort();
      for (size_t j = 0; j < s->n_routes; j++)
        n->routes[j]
            = (struct net_route){ s->routes[j].to, s->routes[j].has_via, s->routes[j].via };
      n->n_routes = s->n_routes;
    }
    for (size_t j = 0; j < s->n_gateways; j++) {
      if (s->gateways[j].family == AF_INET) {
        n->has_gw4 = true;
        n->gw4 = s->gateways[j];
      } else {
        n->has_gw6 = true;
        n->gw6 = s->gateways[j];
      }
    }
  }
  if (sn->n_dns) {
    c.dns = calloc(sn->n_dns, sizeof *c.dns);
    if (c.dns == NULL)
      abort();
    memcpy(c.dns, sn->dns, sn->n_dns * sizeof *c.dns);
    c.n_dns = sn->n_dns;
  }
  c.search = strv_copy_n(sn->dns_search, sn->n_dns_search, &c.n_search);
  c.options = strv_copy_n(sn->dns_options, sn->n_dns_options, &c.n_options);
  *ret = c;
  return 0;
}

bool
net_ifname_valid(const char *name)
{
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > NET_IFNAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return false;
  for (const char *p = name; *p; p++)
    if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
      return false;
  return true;
}

static bool
gateway_on_link(const struct net_nic *nic, const struct spec_ip *gw)
{
  /* IPv6 gateways are usually link-local (fe80::/10): on-link by definition. */
  if (gw->family == AF_INET6 && gw->addr[0] == 0xfe && (gw->addr[1] & 0xc0) == 0x80)
    return true;
  for (size_t i = 0; i < nic->n_ips; i++)
    if (net_ip_in_subnet(gw, &nic->ips[i]))
      return true;
  return false;
}

static int
validate_text(const char *what, char **v, size_t n, size_t max, tank_error **err)
{
  if (n > max)
    return tank_error_set(err, E2BIG, "network.%s: more than %zu entries", what, max);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(v[i]);
    if (len == 0 || len > NET_MAX_DNS_TEXT)
      return tank_error_set(err, EINVAL, "network.%s[%zu]: empty or longer than %d bytes", what, i,
                            NET_MAX_DNS_TEXT);
    for (const char *p = v[i]; *p; p++)
      if (*p <= ' ' || *p == 0x7f || *p == '#' || *p == ';')
        return tank_error_set(err, EINVAL,
                              "network.%s[%zu]: `%s` holds a blank, control or comment character",
                              what, i, v[i]);
  }
  return 0;
}

static int
validate_nic(const struct net_config *c, size_t i, tank_error **err)
{
  const struct net_nic *nic = &c->nics[i];
  char a[NET_IP_STRLEN];

  if (!net_ifname_valid(nic->name))
    return tank_error_set(err, EINVAL,
                          "nics[%zu].name: `%s` is not an interface name (1-%d "
                          "bytes, no `/`, `:` or blanks)",
                          i, nic->name ? nic->name : "", NET_IFNAME_MAX);
  if (strcmp(nic->name, "lo") == 0)
    return tank_error_set(err, EINVAL, "nics[%zu].name: `lo` is the pod's loopback", i);
  for (size_t j = 0; j < i; j++)
    if (strcmp(c->nics[j].name, nic->name) == 0)
      return tank_error_set(err, EINVAL, "nics[%zu].name: `%s` is used twice", i, nic->name);
  if (nic->parent && !net_ifname_valid(nic->parent))
    return tank_error_set(err, EINVAL, "nic `%s`: parent `%s` is not an interface name", nic->name,
                          nic->parent);
  if (nic->n_ips > NET_MAX_IPS_PER_NIC)
    return tank_error_set(err, E2BIG, "nic `%s`: more than %d addresses", nic->name,
                          NET_MAX_IPS_PER_NIC);
  if (nic->n_routes > NET_MAX_ROUTES)
    return tank_error_set(err, E2BIG, "nic `%s`: more than %d routes", nic->name, NET_MAX_ROUTES);
  if (nic->mtu && (nic->mtu < NET_MTU_MIN || nic->mtu > NET_MTU_MAX))
    return tank_error_set(err, EINVAL, "nic `%s`: mtu %u outside %d-%d", nic->name, nic->mtu,
                          NET_MTU_MIN, NET_MTU_MAX);
  if (nic->has_mac && (nic->mac[0] & 1))
    return tank_error_set(err, EINVAL, "nic `%s`: mac is a multicast address", nic->name);
  if (nic->has_mac && nic->macvlan_mode == SPEC_MACVLAN_PASSTHRU)
    return tank_error_set(err, EINVAL, "nic `%s`: passthru takes the parent's mac; remove `mac:`",
                          nic->name);
  for (size_t j = 0; j < nic->n_ips; j++)
    for (size_t k = 0; k < j; k++)
      if (net_ip_equal(&nic->ips[j], &nic->ips[k]))
        return tank_error_set(err, EINVAL, "nic `%s`: address %s listed twice", nic->name,
                              net_ip_format(&nic->ips[j], false, a));
  if (nic->has_gw4 && (nic->gw4.family != AF_INET || !gateway_on_link(nic, &nic->gw4)))
    return tank_error_set(err, EINVAL, "nic `%s`: gateway %s is in none of its IPv4 subnets",
                          nic->name, net_ip_format(&nic->gw4, false, a));
  if (nic->has_gw6 && (nic->gw6.family != AF_INET6 || !gateway_on_link(nic, &nic->gw6)))
    return tank_error_set(err, EINVAL, "nic `%s`: gateway %s is in none of its IPv6 subnets",
                          nic->name, net_ip_format(&nic->gw6, false, a));
  for (size_t j = 0; j < nic->n_routes; j++) {
    const struct net_route *r = &nic->routes[j];
    if (r->has_via && r->via.family != r->dst.family)
      return tank_error_set(err, EINVAL,
                            "nic `%s`: routes[%zu]: `via` is not of the family of "
                            "`to`",
                            nic->name, j);
    if (r->has_via && !gateway_on_link(nic, &r->via))
      return tank_error_set(err, EINVAL,
                            "nic `%s`: routes[%zu]: via %s is in none of its "
                            "subnets",
                            nic->name, j, net_ip_format(&r->via, false, a));
    if (r->dst.prefix == 0
        && ((r->dst.family == AF_INET && nic->has_gw4)
            || (r->dst.family == AF_INET6 && nic->has_gw6)))
      return tank_error_set(err, EINVAL,
                            "nic `%s`: routes[%zu]: a default route and `gateway` "
                            "both given",
                            nic->name, j);
  }
  return 0;
}

int
net_config_validate(const struct net_config *c, tank_error **err)
{
  if (c->n_nics > NET_MAX_NICS)
    return tank_error_set(err, E2BIG, "network: more than %d nics", NET_MAX_NICS);
  if (c->mode == SPEC_NET_NICS && c->n_nics == 0)
    return tank_error_set(err, EINVAL, "network: no nics listed");
  if (c->mode != SPEC_NET_NICS && c->n_nics)
    return tank_error_set(err, EINVAL, "network: nics listed but the mode is none or host");
  if (c->n_dns > NET_MAX_DNS)
    return tank_error_set(err, E2BIG, "network.dns: more than %d servers", NET_MAX_DNS);
  int r;
  if ((r = validate_text("search", c->search, c->n_search, NET_MAX_SEARCH, err)) < 0
      || (r = validate_text("options", c->options, c->n_options, NET_MAX_OPTIONS, err)) < 0)
    return r;
  for (size_t i = 0; i < c->n_nics; i++)
    if ((r = validate_nic(c, i, err)) < 0)
      return r;
  /* Two default routes of one family on two NICs would fight over the main table. */
  for (int fam = 0; fam < 2; fam++) {
    int owners = 0;
    for (size_t i = 0; i < c->n_nics; i++)
      owners += fam == 0 ? c->nics[i].has_gw4 : c->nics[i].has_gw6;
    if (owners > 1)
      return tank_error_set(err, EINVAL, "network: more than one nic has an IPv%d gateway",
                            fam == 0 ? 4 : 6);
  }
  return 0;
}

/* FNV-1a, 64 bits, then a mixer: fixed forever, see the header. */
static uint64_t
fnv1a(uint64_t h, const void *data, size_t n)
{
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

void
net_stable_mac(const char *pod, size_t nic_index, uint8_t ret_mac[6])
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  uint8_t idx[4] = { (uint8_t)(nic_index >> 24), (uint8_t)(nic_index >> 16),
                     (uint8_t)(nic_index >> 8), (uint8_t)nic_index };
  h = fnv1a(h, "tank-mac\0", 9);
  h = fnv1a(h, pod, strlen(pod) + 1);
  h = fnv1a(h, idx, sizeof idx);
  /* FNV's last bytes barely reach the high bits: mix (murmur3's finalizer). */
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  /* 02: locally administered, unicast; the remaining 40 bits from the hash. */
  ret_mac[0] = 0x02;
  for (int i = 1; i < 6; i++)
    ret_mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}
