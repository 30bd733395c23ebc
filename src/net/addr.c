/* IP and MAC address text forms and the bit arithmetic IPAM and the subnet
 * checks need, on struct spec_ip. */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

size_t
net_ip_len(int family)
{
  return family == AF_INET ? 4 : 16;
}

int
net_ip_parse(const char *s, bool with_prefix, struct spec_ip *ret)
{
  char buf[NET_IP_STRLEN];
  struct spec_ip ip = { 0 };
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);

  if (n == 0 || n >= sizeof buf)
    return -EINVAL;
  if (slash && !with_prefix)
    return -EINVAL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (inet_pton(AF_INET, buf, ip.addr) == 1)
    ip.family = AF_INET;
  else if (inet_pton(AF_INET6, buf, ip.addr) == 1)
    ip.family = AF_INET6;
  else
    return -EINVAL;
  unsigned max = net_ip_len(ip.family) * 8;
  ip.prefix = max;
  if (slash) {
    const char *p = slash + 1;
    char *end;
    if (*p < '0' || *p > '9' || strlen(p) > 3)
      return -EINVAL;
    unsigned long v = strtoul(p, &end, 10);
    if (*end != '\0' || v > max)
      return -EINVAL;
    ip.prefix = v;
  }
  *ret = ip;
  return 0;
}

const char *
net_ip_format(const struct spec_ip *ip, bool with_prefix, char buf[NET_IP_STRLEN])
{
  char a[INET6_ADDRSTRLEN];
  if (inet_ntop(ip->family, ip->addr, a, sizeof a) == NULL)
    snprintf(a, sizeof a, "?");
  if (with_prefix)
    snprintf(buf, NET_IP_STRLEN, "%s/%u", a, ip->prefix);
  else
    snprintf(buf, NET_IP_STRLEN, "%s", a);
  return buf;
}

static int
hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int
net_mac_parse(const char *s, unsigned char ret_mac[6])
{
  unsigned char mac[6];
  if (strlen(s) != 17)
    return -EINVAL;
  for (int i = 0; i < 6; i++) {
    int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
      return -EINVAL;
    mac[i] = (unsigned char)(hi << 4 | lo);
  }
  memcpy(ret_mac, mac, 6);
  return 0;
}

void
net_mac_format(const unsigned char mac[6], char buf[18])
{
  snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
           mac[5]);
}

bool
net_ip_equal(const struct spec_ip *a, const struct spec_ip *b)
{
  return a->family == b->family && memcmp(a->addr, b->addr, net_ip_len(a->family)) == 0;
}

bool
net_ip_in_subnet(const struct spec_ip *addr, const struct spec_ip *subnet)
{
  if (addr->family != subnet->family)
    return false;
  struct spec_ip x, y;
  struct spec_ip a = *addr;
  a.prefix = subnet->prefix;
  net_ip_network(&a, &x);
  net_ip_network(subnet, &y);
  return net_ip_equal(&x, &y);
}

void
net_ip_network(const struct spec_ip *ip, struct spec_ip *ret)
{
  struct spec_ip r = *ip;
  size_t len = net_ip_len(ip->family);
  for (size_t i = 0; i < len; i++) {
    unsigned bits = ip->prefix > i * 8 ? ip->prefix - i * 8 : 0;
    uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
    r.addr[i] &= mask;
  }
  *ret = r;
}

bool
net_ip_add(struct spec_ip *ip, uint64_t n)
{
  size_t len = net_ip_len(ip->family);
  uint8_t out[16];
  memcpy(out, ip->addr, len);
  unsigned carry = 0;
  for (size_t i = len; i-- > 0;) {
    unsigned v = out[i] + (unsigned)(n & 0xff) + carry;
    out[i] = (uint8_t)v;
    carry = v >> 8;
    n >>= 8;
  }
  if (carry || n)
    return false;
  memcpy(ip->addr, out, len);
  return true;
}

uint64_t
net_ip_diff(const struct spec_ip *a, const struct spec_ip *b)
{
  size_t len = net_ip_len(a->family);
  /* Big-endian subtraction byte by byte, then saturate when the high part is non-zero. */
  uint8_t d[16];
  int borrow = 0;
  for (size_t i = len; i-- > 0;) {
    int v = (int)a->addr[i] - (int)b->addr[i] - borrow;
    borrow = v < 0;
    d[i] = (uint8_t)(v + (borrow ? 256 : 0));
  }
  for (size_t i = 0; i + 8 < len; i++)
    if (d[i])
      return UINT64_MAX;
  uint64_t r = 0;
  for (size_t i = len > 8 ? len - 8 : 0; i < len; i++)
    r = r << 8 | d[i];
  return r;
}

int
net_ip_compare(const struct spec_ip *a, const struct spec_ip *b)
{
  if (a->family != b->family)
    return a->family < b->family ? -1 : 1;
  return memcmp(a->addr, b->addr, net_ip_len(a->family));
}

bool
net_ip_is_loopback(const struct spec_ip *ip)
{
  static const uint8_t v6_loopback[16] = { [15] = 1 };
  if (ip->family == AF_INET)
    return ip->addr[0] == 127;
  return memcmp(ip->addr, v6_loopback, 16) == 0;
}
