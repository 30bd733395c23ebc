/* Pod and container resource samples, as JSON and as Prometheus samples. */
#include "daemon/podstats.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sandbox.h"

static int64_t
mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool
read_cgroup(const struct podstats_paths *paths, const char *rel, struct cgroup_stats *ret)
{
  struct tank_cgroup *cg = NULL;
  tank_error *err = NULL;
  bool ok = cgroup_open(paths->cgroup_fs, rel, paths->version, &cg, &err) == 0
            && cgroup_read_stats(cg, ret, &err) == 0;
  tank_error_free(err);
  cgroup_free(cg);
  return ok;
}

void
podstats_sample(const struct podstats_paths *paths, const char *name, char *const *ctrs,
                size_t n_ctrs, struct pod_sample *ret)
{
  memset(ret, 0, sizeof *ret);
  ret->name = strdup(name);
  ret->mono_ns = mono_ns();
  char rel[1024];
  snprintf(rel, sizeof rel, "%s/%s", paths->cgroup_root, name);
  ret->found = read_cgroup(paths, rel, &ret->cg);
  ret->ctrs = calloc(n_ctrs ? n_ctrs : 1, sizeof *ret->ctrs);
  if (ret->name == NULL || ret->ctrs == NULL)
    abort();
  ret->n_ctrs = n_ctrs;
  for (size_t i = 0; i < n_ctrs; i++) {
    ret->ctrs[i].name = strdup(ctrs[i]);
    if (ret->ctrs[i].name == NULL)
      abort();
    snprintf(rel, sizeof rel, "%s/%s/%s", paths->cgroup_root, name, ctrs[i]);
    ret->ctrs[i].found = read_cgroup(paths, rel, &ret->ctrs[i].cg);
  }
  /* v1 may count block I/O only per process (cgroup-v1.c): the pod's cgroup
   * holds none itself, so it is the sum of its containers'. */
  if (ret->found && ret->cg.io_read_bytes == 0 && ret->cg.io_write_bytes == 0)
    for (size_t i = 0; i < n_ctrs; i++) {
      ret->cg.io_read_bytes += ret->ctrs[i].cg.io_read_bytes;
      ret->cg.io_write_bytes += ret->ctrs[i].cg.io_write_bytes;
    }
  char *ns = sandbox_ns_path(paths->run_dir, name, SANDBOX_NS_NET);
  if (ns && access(ns, F_OK) == 0) {
    tank_error *err = NULL;
    ret->has_net = net_dev_stats_read(ns, &ret->net, &ret->n_net, &err) == 0;
    tank_error_free(err);
  }
  free(ns);
}

void
pod_sample_clear(struct pod_sample *s)
{
  for (size_t i = 0; i < s->n_ctrs; i++)
    free(s->ctrs[i].name);
  free(s->ctrs);
  free(s->net);
  free(s->name);
  memset(s, 0, sizeof *s);
}

void
podstats_net_totals(const struct pod_sample *s, uint64_t *ret_rx, uint64_t *ret_tx)
{
  uint64_t rx = 0, tx = 0;
  for (size_t i = 0; i < s->n_net; i++)
    if (strcmp(s->net[i].name, "lo") != 0) {
      rx += s->net[i].rx_bytes;
      tx += s->net[i].tx_bytes;
    }
  *ret_rx = rx;
  *ret_tx = tx;
}

static json_t *
cpu_percent(uint64_t now_us, int64_t now_ns, uint64_t before_us, int64_t before_ns)
{
  if (before_ns <= 0 || now_ns <= before_ns || now_us < before_us)
    return json_null();
  double pct = (double)(now_us - before_us) * 1000.0 / (double)(now_ns - before_ns) * 100.0;
  return json_real((double)(int64_t)(pct * 100.0 + 0.5) / 100.0);
}

static json_t *
cg_json(const struct cgroup_stats *c, json_t *cpu_pct)
{
  return json_pack(
      "{s:o,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "cpu_percent", cpu_pct, "cpu_seconds",
      (double)c->cpu_usage_us / 1e6, "memory_bytes", (json_int_t)c->memory_working_set_bytes,
      "memory_usage_bytes", (json_int_t)c->memory_current_bytes, "memory_limit_bytes",
      (json_int_t)c->memory_limit_bytes, "pids", (json_int_t)c->pids_current, "pids_limit",
      (json_int_t)c->pids_limit, "block_read_bytes", (json_int_t)c->io_read_bytes,
      "block_write_bytes", (json_int_t)c->io_write_bytes, "cpu_throttled_periods",
      (json_int_t)c->cpu_nr_throttled, "oom_kills", (json_int_t)c->oom_kills);
}

json_t *
podstats_json(const struct pod_sample *now, const struct pod_sample *before)
{
  bool comparable = before && before->found && now->found;
  json_t *pod = cg_json(&now->cg, comparable ? cpu_percent(now->cg.cpu_usage_us, now->mono_ns,
                                                           before->cg.cpu_usage_us, before->mono_ns)
                                             : json_null());
  /* The pod cgroup has no memory limit of its own: the sum of its containers'
   * when every one has a limit. */
  uint64_t limit = 0;
  bool all_limited = now->n_ctrs > 0;
  json_t *ctrs = json_array();
  for (size_t i = 0; i < now->n_ctrs; i++) {
    const struct ctr_sample *c = &now->ctrs[i];
    const struct ctr_sample *b = NULL;
    for (size_t j = 0; before && j < before->n_ctrs; j++)
      if (strcmp(before->ctrs[j].name, c->name) == 0 && before->ctrs[j].found)
        b = &before->ctrs[j];
    json_t *cj = c->found ? cg_json(&c->cg, b ? cpu_percent(c->cg.cpu_usage_us, now->mono_ns,
                                                            b->cg.cpu_usage_us, before->mono_ns)
                                              : json_null())
                          : json_object();
    json_object_set_new(cj, "name", json_string(c->name));
    json_object_set_new(cj, "running", json_boolean(c->found));
    json_array_append_new(ctrs, cj);
    if (c->found && c->cg.memory_limit_bytes)
      limit += c->cg.memory_limit_bytes;
    else
      all_limited = false;
  }
  if (now->cg.memory_limit_bytes == 0)
    json_object_set_new(pod, "memory_limit_bytes",
                        json_integer(all_limited ? (json_int_t)limit : 0));
  json_object_set_new(pod, "name", json_string(now->name));
  json_object_set_new(pod, "running", json_boolean(now->found));
  if (now->has_net) {
    uint64_t rx, tx;
    podstats_net_totals(now, &rx, &tx);
    json_object_set_new(pod, "net_rx_bytes", json_integer((json_int_t)rx));
    json_object_set_new(pod, "net_tx_bytes", json_integer((json_int_t)tx));
    json_t *ifs = json_array();
    for (size_t i = 0; i < now->n_net; i++) {
      const struct net_dev_stats *n = &now->net[i];
      json_array_append_new(
          ifs, json_pack("{s:s,s:I,s:I,s:I,s:I}", "name", n->name, "rx_bytes",
                         (json_int_t)n->rx_bytes, "tx_bytes", (json_int_t)n->tx_bytes, "rx_packets",
                         (json_int_t)n->rx_packets, "tx_packets", (json_int_t)n->tx_packets));
    }
    json_object_set_new(pod, "interfaces", ifs);
  } else {
    json_object_set_new(pod, "net_rx_bytes", json_null());
    json_object_set_new(pod, "net_tx_bytes", json_null());
  }
  json_object_set_new(pod, "containers", ctrs);
  return pod;
}

/* ---- Prometheus -------------------------------------------------------------------- */

enum cg_field_kind { U64, USEC_AS_SECONDS };

static const struct cg_family {
  const char *name, *type, *help;
  size_t off;
  enum cg_field_kind kind;
  bool skip_zero; /* limits: 0 means none; cAdvisor reports 0 then too, so not skipped */
} cg_families[] = {
#define F(n, t, h, field, k)                                                                       \
  {                                                                                                \
    n, t, h, offsetof(struct cgroup_stats, field), k, false                                        \
  }
  F("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.",
    cpu_usage_us, USEC_AS_SECONDS),
  F("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds.",
    cpu_user_us, USEC_AS_SECONDS),
  F("container_cpu_system_seconds_total", "counter",
    "Cumulative system cpu time consumed in seconds.", cpu_system_us, USEC_AS_SECONDS),
  F("container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.",
    cpu_nr_periods, U64),
  F("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.",
    cpu_nr_throttled, U64),
  F("container_cpu_cfs_throttled_seconds_total", "counter",
    "Total time duration the container has been throttled.", cpu_throttled_us, USEC_AS_SECONDS),
  F("container_memory_usage_bytes", "gauge",
    "Current memory usage in bytes, including all memory regardless of when it was accessed.",
    memory_current_bytes, U64),
  F("container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
    memory_working_set_bytes, U64),
  F("container_memory_rss", "gauge", "Size of RSS in bytes.", memory_rss_bytes, U64),
  F("container_memory_cache", "gauge", "Number of bytes of page cache memory.", memory_cache_bytes,
    U64),
  F("container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes.",
    memory_peak_bytes, U64),
  F("container_oom_events_total", "counter",
    "Count of out of memory events observed for the container.", oom_kills, U64),
  F("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container (0: none).",
    memory_limit_bytes, U64),
  F("container_spec_cpu_quota", "gauge", "CPU quota of the container (0: none).", cpu_quota_us,
    U64),
  F("container_spec_cpu_period", "gauge", "CPU period of the container.", cpu_period_us, U64),
  F("container_threads", "gauge", "Number of threads running inside the container.", pids_current,
    U64),
  F("container_threads_max", "gauge",
    "Maximum number of threads allowed inside the container (0: none).", pids_limit, U64),
  F("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read.", io_read_bytes,
    U64),
  F("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written.",
    io_write_bytes, U64),
  F("container_fs_reads_total", "counter", "Cumulative count of reads completed.", io_read_ops,
    U64),
  F("container_fs_writes_total", "counter", "Cumulative count of writes completed.", io_write_ops,
    U64),
#undef F
};

static double
cg_value(const struct cgroup_stats *s, const struct cg_family *f)
{
  uint64_t v = *(const uint64_t *)((const char *)s + f->off);
  return f->kind == USEC_AS_SECONDS ? (double)v / 1e6 : (double)v;
}

static const struct net_family {
  const char *name, *type, *help;
  size_t off;
} net_families[] = {
#define N(n, h, field)                                                                             \
  {                                                                                                \
    n, "counter", h, offsetof(struct net_dev_stats, field)                                         \
  }
  N("container_network_receive_bytes_total", "Cumulative count of bytes received.", rx_bytes),
  N("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", tx_bytes),
  N("container_network_receive_packets_total", "Cumulative count of packets received.", rx_packets),
  N("container_network_transmit_packets_total", "Cumulative count of packets transmitted.",
    tx_packets),
  N("container_network_receive_errors_total",
    "Cumulative count of errors encountered while receiving.", rx_errors),
  N("container_network_transmit_errors_total",
    "Cumulative count of errors encountered while transmitting.", tx_errors),
  N("container_network_receive_packets_dropped_total",
    "Cumulative count of packets dropped while receiving.", rx_dropped),
  N("container_network_transmit_packets_dropped_total",
    "Cumulative count of packets dropped while transmitting.", tx_dropped),
#undef N
};

void
podstats_prom(struct prom_buf *b, const struct pod_sample *v, size_t n)
{
  for (size_t f = 0; f < sizeof cg_families / sizeof cg_families[0]; f++) {
    const struct cg_family *fam = &cg_families[f];
    prom_family(b, fam->name, fam->type, fam->help);
    for (size_t p = 0; p < n; p++) {
      if (v[p].found) {
        const char *labels[] = { "pod", v[p].name, "container", "", NULL };
        prom_sample(b, fam->name, labels, cg_value(&v[p].cg, fam));
      }
      for (size_t c = 0; c < v[p].n_ctrs; c++) {
        if (!v[p].ctrs[c].found)
          continue;
        const char *labels[] = { "pod", v[p].name, "container", v[p].ctrs[c].name, NULL };
        prom_sample(b, fam->name, labels, cg_value(&v[p].ctrs[c].cg, fam));
      }
    }
  }
  for (size_t f = 0; f < sizeof net_families / sizeof net_families[0]; f++) {
    const struct net_family *fam = &net_families[f];
    prom_family(b, fam->name, fam->type, fam->help);
    for (size_t p = 0; p < n; p++)
      for (size_t i = 0; i < v[p].n_net; i++) {
        if (strcmp(v[p].net[i].name, "lo") == 0)
          continue; /* as cAdvisor */
        const char *labels[] = { "pod", v[p].name, "interface", v[p].net[i].name, NULL };
        uint64_t val = *(const uint64_t *)((const char *)&v[p].net[i] + fam->off);
        prom_sample(b, fam->name, labels, (double)val);
      }
  }
}
