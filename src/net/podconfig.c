/* The pod spec's network section turned into a net_config, IPAM included. */
#include "net/podconfig.h"

#include <errno.h>
#include <string.h>

int
net_config_for_pod(const struct spec_pod *pod, tank_store *s, const struct ipam_pool *pools,
                   size_t n_pools, struct net_config *ret, tank_error **err)
{
  struct net_config c;

  if (net_config_from_spec(&pod->network, &c, err) < 0)
    return tank_error_wrap(err, "pod `%s`", pod->name);
  for (size_t i = 0; i < pod->network.n_nics; i++) {
    const char *pool_name = pod->network.nics[i].ip_pool;
    const struct ipam_pool *pool = NULL;
    if (pool_name == NULL)
      continue;
    for (size_t j = 0; j < n_pools && pool == NULL; j++)
      if (strcmp(pools[j].name, pool_name) == 0)
        pool = &pools[j];
    if (pool == NULL || s == NULL) {
      net_config_clear(&c);
      return tank_error_set(err, ENOENT,
                            "pod `%s`: nic `%s`: no ipam pool `%s` in the daemon "
                            "config",
                            pod->name, pod->network.nics[i].name, pool_name);
    }
    int r = ipam_fill_nic(s, pool, pod->name, &c, i, err);
    if (r < 0) {
      net_config_clear(&c);
      return r;
    }
  }
  *ret = c;
  return 0;
}
