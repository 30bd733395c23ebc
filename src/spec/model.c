/* Lifetime and equality of pod specs. */
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "util/strv.h"

static void
container_clear(struct spec_container *c)
{
  free(c->name);
  free(c->image);
  strv_free_n(c->command, c->n_command);
  strv_free_n(c->args, c->n_args);
  for (size_t i = 0; i < c->n_env; i++) {
    free(c->env[i].name);
    free(c->env[i].value);
  }
  free(c->env);
  free(c->working_dir);
  free(c->user);
  for (size_t i = 0; c->mounts && i < c->n_mounts; i++) {
    free(c->mounts[i].volume);
    free(c->mounts[i].path);
  }
  free(c->mounts);
}

struct spec_pod *
spec_pod_free(struct spec_pod *pod)
{
  if (pod == NULL)
    return NULL;
  free(pod->name);
  for (size_t i = 0; pod->network.nics && i < pod->network.n_nics; i++) {
    struct spec_nic *nic = &pod->network.nics[i];
    free(nic->name);
    free(nic->parent);
    free(nic->ips);
    free(nic->ip_pool);
    free(nic->gateways);
    free(nic->routes);
  }
  free(pod->network.nics);
  free(pod->network.dns);
  strv_free_n(pod->network.dns_search, pod->network.n_dns_search);
  strv_free_n(pod->network.dns_options, pod->network.n_dns_options);
  for (size_t i = 0; pod->volumes && i < pod->n_volumes; i++) {
    free(pod->volumes[i].name);
    free(pod->volumes[i].host);
  }
  free(pod->volumes);
  for (size_t i = 0; pod->containers && i < pod->n_containers; i++)
    container_clear(&pod->containers[i]);
  free(pod->containers);
  free(pod);
  return NULL;
}

void
spec_file_free(struct spec_file *f)
{
  for (size_t i = 0; i < f->n_pods; i++)
    spec_pod_free(f->pods[i]);
  free(f->pods);
  for (size_t i = 0; i < f->n_errors; i++)
    free(f->errors[i]);
  free(f->errors);
  *f = (struct spec_file){ 0 };
}

static bool
str_eq(const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool
strv_eq(char **a, size_t na, char **b, size_t nb)
{
  if ((a == NULL) != (b == NULL) || na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (!str_eq(a[i], b[i]))
      return false;
  return true;
}

static bool
ips_eq(const struct spec_ip *a, size_t na, const struct spec_ip *b, size_t nb)
{
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (a[i].family != b[i].family || a[i].prefix != b[i].prefix
        || memcmp(a[i].addr, b[i].addr, sizeof a[i].addr) != 0)
      return false;
  return true;
}

static bool
routes_eq(const struct spec_nic *a, const struct spec_nic *b)
{
  if (a->n_routes != b->n_routes)
    return false;
  for (size_t i = 0; i < a->n_routes; i++) {
    const struct spec_route *x = &a->routes[i], *y = &b->routes[i];
    if (!ips_eq(&x->to, 1, &y->to, 1) || x->has_via != y->has_via
        || (x->has_via && !ips_eq(&x->via, 1, &y->via, 1)))
      return false;
  }
  return true;
}

static bool
nic_eq(const struct spec_nic *a, const struct spec_nic *b)
{
  return str_eq(a->name, b->name) && str_eq(a->parent, b->parent)
         && a->macvlan_mode == b->macvlan_mode && ips_eq(a->ips, a->n_ips, b->ips, b->n_ips)
         && str_eq(a->ip_pool, b->ip_pool)
         && ips_eq(a->gateways, a->n_gateways, b->gateways, b->n_gateways)
         && a->has_mac == b->has_mac && (!a->has_mac || memcmp(a->mac, b->mac, 6) == 0)
         && a->mtu == b->mtu && routes_eq(a, b);
}

static bool
container_eq(const struct spec_container *a, const struct spec_container *b)
{
  if (!str_eq(a->name, b->name) || !str_eq(a->image, b->image)
      || !strv_eq(a->command, a->n_command, b->command, b->n_command) || a->has_args != b->has_args
      || !strv_eq(a->args, a->n_args, b->args, b->n_args) || a->n_env != b->n_env
      || !str_eq(a->working_dir, b->working_dir) || !str_eq(a->user, b->user) || a->tty != b->tty
      || a->n_mounts != b->n_mounts || a->stop_signal != b->stop_signal
      || a->stop_timeout_ms != b->stop_timeout_ms
      || memcmp(&a->limits, &b->limits, sizeof a->limits) != 0)
    return false;
  for (size_t i = 0; i < a->n_env; i++)
    if (!str_eq(a->env[i].name, b->env[i].name) || !str_eq(a->env[i].value, b->env[i].value))
      return false;
  for (size_t i = 0; i < a->n_mounts; i++)
    if (!str_eq(a->mounts[i].volume, b->mounts[i].volume)
        || !str_eq(a->mounts[i].path, b->mounts[i].path)
        || a->mounts[i].read_only != b->mounts[i].read_only)
      return false;
  return true;
}

bool
spec_pod_equal(const struct spec_pod *a, const struct spec_pod *b)
{
  if (!str_eq(a->name, b->name) || a->restart != b->restart
      || memcmp(&a->backoff, &b->backoff, sizeof a->backoff) != 0
      || a->network.mode != b->network.mode || a->network.n_nics != b->network.n_nics
      || a->network.has_dns != b->network.has_dns
      || !ips_eq(a->network.dns, a->network.n_dns, b->network.dns, b->network.n_dns)
      || a->n_volumes != b->n_volumes || a->n_containers != b->n_containers)
    return false;
  for (size_t i = 0; i < a->network.n_nics; i++)
    if (!nic_eq(&a->network.nics[i], &b->network.nics[i]))
      return false;
  for (size_t i = 0; i < a->n_volumes; i++)
    if (!str_eq(a->volumes[i].name, b->volumes[i].name)
        || !str_eq(a->volumes[i].host, b->volumes[i].host))
      return false;
  for (size_t i = 0; i < a->n_containers; i++)
    if (!container_eq(&a->containers[i], &b->containers[i]))
      return false;
  return true;
}
