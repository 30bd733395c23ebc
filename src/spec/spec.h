/* The pod spec model (DESIGN.md §4): typed structs with defaults applied,
 * parsed from YAML or JSON (Tank's own form or a Kubernetes v1 Pod), strictly
 * validated, and serialized to one canonical JSON form. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum spec_restart {
  SPEC_RESTART_ALWAYS = 0, /* default */
  SPEC_RESTART_ON_FAILURE,
  SPEC_RESTART_NEVER,
};

struct spec_backoff {
  uint64_t initial_ms;     /* default 1000 */
  uint64_t max_ms;         /* default 60000 */
  uint64_t reset_after_ms; /* default 60000 */
};

/* An IPv4 or IPv6 address with a prefix length (the full length for plain addresses). */
struct spec_ip {
  int family; /* AF_INET or AF_INET6 */
  uint8_t addr[16];
  unsigned prefix;
};

/* An extra route of a NIC: `to` with a prefix, via a gateway or on-link. */
struct spec_route {
  struct spec_ip to;
  bool has_via;
  struct spec_ip via;
};

enum spec_macvlan_mode {
  SPEC_MACVLAN_BRIDGE = 0, /* default */
  SPEC_MACVLAN_PRIVATE,
  SPEC_MACVLAN_VEPA,
  SPEC_MACVLAN_PASSTHRU,
};

struct spec_nic {
  char *name;
  char *parent; /* NULL: the configured or auto-detected uplink */
  enum spec_macvlan_mode macvlan_mode;
  struct spec_ip *ips; /* static addresses (with prefix); empty when ip_pool is set */
  size_t n_ips;
  char *ip_pool;            /* IPAM pool name, or NULL */
  struct spec_ip *gateways; /* at most one per family */
  size_t n_gateways;
  bool has_mac; /* false: derived from pod name + NIC index */
  uint8_t mac[6];
  unsigned mtu; /* 0: the parent's */
  struct spec_route *routes;
  size_t n_routes;
};

enum spec_network_mode {
  SPEC_NET_NONE = 0, /* default: only loopback */
  SPEC_NET_HOST,
  SPEC_NET_NICS,
};

struct spec_network {
  enum spec_network_mode mode;
  struct spec_nic *nics;
  size_t n_nics;
  bool has_dns; /* false: the host's resolvers */
  struct spec_ip *dns;
  size_t n_dns;
  char **dns_search; /* resolv.conf search domains */
  size_t n_dns_search;
  char **dns_options; /* resolv.conf options, e.g. ndots:2 */
  size_t n_dns_options;
};

struct spec_volume {
  char *name;
  char *host; /* NULL: a managed volume under the data dir */
};

struct spec_mount {
  char *volume;
  char *path; /* absolute, normalized */
  bool read_only;
};

struct spec_env {
  char *name;
  char *value;
};

struct spec_limits {
  uint64_t memory_bytes;  /* 0: unlimited */
  uint64_t pids;          /* 0: unlimited */
  uint64_t cpu_quota_us;  /* 0: unlimited */
  uint64_t cpu_period_us; /* set whenever cpu_quota_us is */
};

struct spec_container {
  char *name;
  char *image;    /* as written; see image/reference.h */
  char **command; /* NULL: the image's Entrypoint and Cmd */
  size_t n_command;
  bool has_args; /* false: the image's Cmd (or none when command is set) */
  char **args;
  size_t n_args;
  struct spec_env *env; /* sorted by name, merged over the image's Env */
  size_t n_env;
  char *working_dir; /* NULL: the image's WorkingDir, else / */
  char *user;        /* NULL: the image's User */
  bool tty;
  struct spec_mount *mounts;
  size_t n_mounts;
  struct spec_limits limits;
  int stop_signal;          /* 0: the image's StopSignal, else SIGTERM */
  uint64_t stop_timeout_ms; /* default 10000 */
};

struct spec_pod {
  char *name;
  enum spec_restart restart;
  struct spec_backoff backoff;
  struct spec_network network;
  struct spec_volume *volumes;
  size_t n_volumes;
  struct spec_container *containers;
  size_t n_containers;
};

/* One parsed file: a pod per document (NULL where that document was invalid)
 * and every error found, each one line "FILE:LINE:COL: path.to[0].field: reason". */
struct spec_file {
  struct spec_pod **pods;
  size_t n_pods;
  char **errors;
  size_t n_errors;
};

enum spec_format {
  SPEC_FORMAT_AUTO = 0, /* JSON when the first non-blank byte is `{`, else YAML */
  SPEC_FORMAT_YAML,
  SPEC_FORMAT_JSON,
};

/* Limits on untrusted input, enforced by the parsers. */
#define SPEC_MAX_BYTES  (1024 * 1024)
#define SPEC_MAX_DEPTH  64
#define SPEC_MAX_NODES  100000
#define SPEC_MAX_ERRORS 100

/* Parses and validates buf (len bytes; need not be NUL-terminated). `filename`
 * only labels errors. Returns 0 when every document is a valid pod, -EINVAL
 * otherwise; *ret is filled either way and must be released with spec_file_free. */
int spec_parse(const char *buf, size_t len, const char *filename, enum spec_format format,
               struct spec_file *ret);
void spec_file_free(struct spec_file *f);

struct spec_pod *spec_pod_free(struct spec_pod *pod);
bool spec_pod_equal(const struct spec_pod *a, const struct spec_pod *b);

/* The canonical form: fixed key order, defaults explicit, quantities normalized
 * (memory in bytes, cpu as {quota_us, period_us}, durations as "Ns"/"Nms"). */
json_t *spec_pod_to_json(const struct spec_pod *pod);
/* Compact canonical JSON (what the store holds). Caller frees. */
char *spec_pod_to_canonical(const struct spec_pod *pod);
/* A deep copy (through the canonical form); NULL only when out of memory. */
struct spec_pod *spec_pod_clone(const struct spec_pod *pod);

/* Quantity and name parsers, exported for the CLI, the daemon config and tests.
 * Each returns 0 or a negative errno and, on failure, sets *ret_reason to a static
 * string saying what is wrong. */
int spec_parse_memory(const char *s, uint64_t *ret_bytes, const char **ret_reason);
int spec_parse_cpu_cores(const char *s, uint64_t *ret_millicores, const char **ret_reason);
int spec_parse_duration(const char *s, uint64_t *ret_ms, const char **ret_reason);
int spec_parse_signal(const char *s, int *ret_signo, const char **ret_reason);
const char *spec_signal_name(int signo); /* "SIGTERM", or NULL when unnamed */
char *spec_format_duration(uint64_t ms); /* "90s", "500ms"; caller frees */
bool spec_is_dns_label(const char *s);
int spec_parse_ip(const char *s, bool with_prefix, struct spec_ip *ret, const char **ret_reason);
char *spec_format_ip(const struct spec_ip *ip, bool with_prefix); /* caller frees */
/* Whether addr lies inside subnet (same family, first subnet->prefix bits equal). */
bool spec_ip_in_subnet(const struct spec_ip *addr, const struct spec_ip *subnet);

const char *spec_restart_name(enum spec_restart r);
const char *spec_macvlan_mode_name(enum spec_macvlan_mode m);

/* Writes JSON values as a YAML stream (one document each), quoting strings
 * that would otherwise read back as numbers, booleans or null. */
int spec_emit_yaml(FILE *f, json_t *const *docs, size_t n_docs);
