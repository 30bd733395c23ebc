/* Fuzzes the network code's text parsers: addresses, MACs, and the host's
 * resolv.conf as the pod's resolv.conf is rendered from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/etcfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';

  struct spec_ip ip;
  char buf[NET_IP_STRLEN];
  if (net_ip_parse(s, true, &ip) == 0) {
    net_ip_format(&ip, true, buf);
    struct spec_ip again;
    if (net_ip_parse(buf, true, &again) != 0 || !net_ip_equal(&ip, &again)
        || again.prefix != ip.prefix)
      abort();
  }
  unsigned char mac[6];
  if (net_mac_parse(s, mac) == 0) {
    char m[18];
    net_mac_format(mac, m);
  }

  struct net_config none = { .mode = SPEC_NET_NONE };
  struct net_config host = { .mode = SPEC_NET_HOST };
  char *out = NULL;
  if (net_render_resolv_conf(&none, s, &out, NULL) == 0)
    free(out);
  if (net_render_resolv_conf(&host, s, &out, NULL) == 0)
    free(out);
  free(s);
  return 0;
}
