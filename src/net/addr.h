/* IP address text forms and arithmetic on struct spec_ip, for the network
 * code and IPAM (no allocation except in the formatters). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"

/* Longest text form: an IPv6 address with "/128". */
#define NET_IP_STRLEN 50

/* "10.0.0.5/24", "fd00::5/64"; with_prefix false rejects a "/N" and sets the full
 * length; with_prefix true makes "/N" optional (full length when absent). */
int net_ip_parse(const char *s, bool with_prefix, struct spec_ip *ret);
/* Writes into buf (NET_IP_STRLEN bytes); returns buf. */
const char *net_ip_format(const struct spec_ip *ip, bool with_prefix, char buf[NET_IP_STRLEN]);

int net_mac_parse(const char *s, unsigned char ret_mac[6]);
void net_mac_format(const unsigned char mac[6], char buf[18]);

size_t net_ip_len(int family);                                       /* 4 or 16 */
bool net_ip_equal(const struct spec_ip *a, const struct spec_ip *b); /* address only */
bool net_ip_in_subnet(const struct spec_ip *addr, const struct spec_ip *subnet);
/* The subnet's network address (host bits cleared), prefix kept. */
void net_ip_network(const struct spec_ip *ip, struct spec_ip *ret);
/* Adds n to the address (big-endian, wrapping ignored); false on overflow past the family. */
bool net_ip_add(struct spec_ip *ip, uint64_t n);
/* a - b as an unsigned count, saturated at UINT64_MAX; both of one family, a >= b. */
uint64_t net_ip_diff(const struct spec_ip *a, const struct spec_ip *b);
int net_ip_compare(const struct spec_ip *a, const struct spec_ip *b);
bool net_ip_is_loopback(const struct spec_ip *ip);
