/* The canonical JSON form of a pod: fixed key order, defaults explicit,
 * quantities normalized, so equal pods serialize to equal bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

static void
set_new(json_t *obj, const char *key, json_t *value)
{
  if (value == NULL || json_object_set_new(obj, key, value) < 0)
    abort();
}

static json_t *
jstr_take(char *s)
{
  if (s == NULL)
    abort();
  json_t *j = json_string(s);
  free(s);
  return j;
}

static json_t *
strv_json(char **v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *
ips_json(const struct spec_ip *ips, size_t n, bool with_prefix)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, jstr_take(spec_format_ip(&ips[i], with_prefix)));
  return a;
}

static json_t *
network_json(const struct spec_network *net)
{
  if (net->mode == SPEC_NET_NONE)
    return json_string("none");
  if (net->mode == SPEC_NET_HOST)
    return json_string("host");
  json_t *o = json_object();
  json_t *nics = json_array();
  for (size_t i = 0; i < net->n_nics; i++) {
    const struct spec_nic *nic = &net->nics[i];
    json_t *n = json_object();
    set_new(n, "name", json_string(nic->name));
    if (nic->parent)
      set_new(n, "parent", json_string(nic->parent));
    set_new(n, "macvlan_mode", json_string(spec_macvlan_mode_name(nic->macvlan_mode)));
    if (nic->ip_pool)
      set_new(n, "ip", json_pack("{s:s}", "pool", nic->ip_pool));
    else if (nic->n_ips)
      set_new(n, "ip", ips_json(nic->ips, nic->n_ips, true));
    if (nic->n_gateways)
      set_new(n, "gateway", ips_json(nic->gateways, nic->n_gateways, false));
    if (nic->has_mac) {
      char mac[18];
      snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", nic->mac[0], nic->mac[1],
               nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5]);
      set_new(n, "mac", json_string(mac));
    }
    if (nic->mtu)
      set_new(n, "mtu", json_integer(nic->mtu));
    if (nic->n_routes) {
      json_t *routes = json_array();
      for (size_t r = 0; r < nic->n_routes; r++) {
        json_t *rj = json_object();
        set_new(rj, "to", jstr_take(spec_format_ip(&nic->routes[r].to, true)));
        if (nic->routes[r].has_via)
          set_new(rj, "via", jstr_take(spec_format_ip(&nic->routes[r].via, false)));
        json_array_append_new(routes, rj);
      }
      set_new(n, "routes", routes);
    }
    json_array_append_new(nics, n);
  }
  set_new(o, "nics", nics);
  if (net->n_dns_search || net->n_dns_options) {
    json_t *dns = json_object();
    if (net->has_dns)
      set_new(dns, "servers", ips_json(net->dns, net->n_dns, false));
    if (net->n_dns_search)
      set_new(dns, "search", strv_json(net->dns_search, net->n_dns_search));
    if (net->n_dns_options)
      set_new(dns, "options", strv_json(net->dns_options, net->n_dns_options));
    set_new(o, "dns", dns);
  } else if (net->has_dns) {
    set_new(o, "dns", ips_json(net->dns, net->n_dns, false));
  }
  return o;
}

static json_t *
container_json(const struct spec_container *c)
{
  json_t *o = json_object();
  set_new(o, "name", json_string(c->name));
  set_new(o, "image", json_string(c->image));
  if (c->command)
    set_new(o, "command", strv_json(c->command, c->n_command));
  if (c->has_args)
    set_new(o, "args", strv_json(c->args, c->n_args));
  if (c->n_env) {
    json_t *env = json_object();
    for (size_t i = 0; i < c->n_env; i++)
      set_new(env, c->env[i].name, json_string(c->env[i].value));
    set_new(o, "env", env);
  }
  if (c->working_dir)
    set_new(o, "working_dir", json_string(c->working_dir));
  if (c->user)
    set_new(o, "user", json_string(c->user));
  set_new(o, "tty", json_boolean(c->tty));
  if (c->n_mounts) {
    json_t *mounts = json_array();
    for (size_t i = 0; i < c->n_mounts; i++)
      json_array_append_new(mounts,
                            json_pack("{s:s,s:s,s:b}", "volume", c->mounts[i].volume, "path",
                                      c->mounts[i].path, "read_only", c->mounts[i].read_only));
    set_new(o, "mounts", mounts);
  }
  const struct spec_limits *l = &c->limits;
  if (l->memory_bytes || l->pids || l->cpu_quota_us) {
    json_t *lim = json_object();
    if (l->memory_bytes)
      set_new(lim, "memory", json_integer((json_int_t)l->memory_bytes));
    if (l->pids)
      set_new(lim, "pids", json_integer((json_int_t)l->pids));
    if (l->cpu_quota_us)
      set_new(lim, "cpu",
              json_pack("{s:I,s:I}", "quota_us", (json_int_t)l->cpu_quota_us, "period_us",
                        (json_int_t)l->cpu_period_us));
    set_new(o, "limits", lim);
  }
  if (c->stop_signal) {
    const char *name = spec_signal_name(c->stop_signal);
    set_new(o, "stop_signal", name ? json_string(name) : json_integer(c->stop_signal));
  }
  set_new(o, "stop_timeout", jstr_take(spec_format_duration(c->stop_timeout_ms)));
  return o;
}

json_t *
spec_pod_to_json(const struct spec_pod *pod)
{
  json_t *o = json_object();
  set_new(o, "name", json_string(pod->name));
  set_new(o, "restart", json_string(spec_restart_name(pod->restart)));
  set_new(o, "backoff",
          json_pack("{s:o,s:o,s:o}", "initial",
                    jstr_take(spec_format_duration(pod->backoff.initial_ms)), "max",
                    jstr_take(spec_format_duration(pod->backoff.max_ms)), "reset_after",
                    jstr_take(spec_format_duration(pod->backoff.reset_after_ms))));
  set_new(o, "network", network_json(&pod->network));
  if (pod->n_volumes) {
    json_t *vols = json_array();
    for (size_t i = 0; i < pod->n_volumes; i++) {
      json_t *v = json_pack("{s:s}", "name", pod->volumes[i].name);
      if (pod->volumes[i].host)
        set_new(v, "host", json_string(pod->volumes[i].host));
      json_array_append_new(vols, v);
    }
    set_new(o, "volumes", vols);
  }
  json_t *ctrs = json_array();
  for (size_t i = 0; i < pod->n_containers; i++)
    json_array_append_new(ctrs, container_json(&pod->containers[i]));
  set_new(o, "containers", ctrs);
  return o;
}

char *
spec_pod_to_canonical(const struct spec_pod *pod)
{
  json_t *j = spec_pod_to_json(pod);
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  return s;
}

struct spec_pod *
spec_pod_clone(const struct spec_pod *pod)
{
  char *s = spec_pod_to_canonical(pod);
  if (s == NULL)
    return NULL;
  struct spec_file f;
  struct spec_pod *copy = NULL;
  if (spec_parse(s, strlen(s), "clone", SPEC_FORMAT_JSON, &f) == 0 && f.n_pods == 1) {
    copy = f.pods[0];
    f.pods[0] = NULL;
  }
  spec_file_free(&f);
  free(s);
  return copy;
}
