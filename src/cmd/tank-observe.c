/* tank logs and tank stats: a container's output and the resource use of pods,
 * from tankd. Exit codes: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/client.h"
#include "cmd/verbs.h"
#include "runtime/logread.h"
#include "util/cleanup.h"

static struct api_client
client(const char *socket_path)
{
  const char *s = socket_path ? socket_path : getenv("TANK_SOCKET");
  return (struct api_client){ .socket_path = (char *)(s && *s ? s : "/run/tank/tank.sock"),
                              .timeout_ms = 30000 };
}

/* ---- logs ------------------------------------------------------------------------ */

struct logs_out {
  char *err_body; /* an error reply, collected to print at the end */
  size_t err_len;
};

static int
on_log_data(long status, const char *data, size_t len, void *userdata)
{
  struct logs_out *o = userdata;
  if (status != 200) {
    if (o->err_len + len > 64 * 1024)
      return 1;
    char *b = realloc(o->err_body, o->err_len + len + 1);
    if (b == NULL)
      return 1;
    memcpy(b + o->err_len, data, len);
    o->err_len += len;
    b[o->err_len] = '\0';
    o->err_body = b;
    return 0;
  }
  if (fwrite(data, 1, len, stdout) != len)
    return 1;
  fflush(stdout); /* -f: each line as it comes */
  return 0;
}

static void
logs_usage(FILE *f)
{
  fprintf(f, "Usage: tank logs [-f] [--tail N] [--since DURATION|TIME] [--timestamps]\n"
             "                 [--previous] POD [-c CONTAINER] [--socket PATH]\n\n"
             "Print a container's output (stdout and stderr, in order).\n\n"
             "  -f, --follow       keep printing new lines, across log rotation and restarts\n"
             "  --tail N           only the last N lines\n"
             "  --since D|TIME     lines newer than a duration ago (10s, 5m, 1h30m) or an\n"
             "                     RFC 3339 time (2024-05-01T10:00:00Z)\n"
             "  -t, --timestamps   start each line with its RFC 3339 time\n"
             "  -p, --previous     the output of the container's previous run\n"
             "  -c, --container C  which container (needed when the pod has several)\n");
}

/* Appends "&key=value" (value URL-safe by construction or escaped here). */
static void
add_query(char *q, size_t size, const char *key, const char *value)
{
  size_t len = strlen(q);
  len += (size_t)snprintf(q + len, size > len ? size - len : 0, "%s%s=", len ? "&" : "?", key);
  for (const char *p = value; *p && len + 4 < size; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
        || strchr("-_.~:", *p))
      q[len++] = *p;
    else
      len += (size_t)snprintf(q + len, size - len, "%%%02X", (unsigned char)*p);
  }
  q[len] = '\0';
}

int
verb_logs(int argc, char **argv)
{
  static const struct option opts[] = { { "follow", no_argument, NULL, 'f' },
                                        { "tail", required_argument, NULL, 'n' },
                                        { "since", required_argument, NULL, 's' },
                                        { "timestamps", no_argument, NULL, 't' },
                                        { "previous", no_argument, NULL, 'p' },
                                        { "container", required_argument, NULL, 'c' },
                                        { "socket", required_argument, NULL, 'S' },
                                        { "help", no_argument, NULL, 'h' },
                                        { 0 } };
  bool follow = false, timestamps = false, previous = false;
  const char *tail = NULL, *since = NULL, *container = NULL, *socket_path = NULL;
  int ch;
  optind = 1;
  /* GNU getopt permutes: options may come after POD (tank logs web -c app). */
  while ((ch = getopt_long(argc, argv, "fn:s:tpc:h", opts, NULL)) != -1) {
    switch (ch) {
      case 'f':
        follow = true;
        break;
      case 'n':
        tail = optarg;
        break;
      case 's':
        since = optarg;
        break;
      case 't':
        timestamps = true;
        break;
      case 'p':
        previous = true;
        break;
      case 'c':
        container = optarg;
        break;
      case 'S':
        socket_path = optarg;
        break;
      case 'h':
        logs_usage(stdout);
        return 0;
      default:
        return 2;
    }
  }
  if (optind + 1 < argc) {
    fprintf(stderr, "tank logs: one pod at a time (got `%s` and `%s`)\n", argv[optind],
            argv[optind + 1]);
    return 2;
  }
  const char *pod = optind < argc ? argv[optind] : NULL;
  if (pod == NULL) {
    logs_usage(stderr);
    return 2;
  }
  char query[1024] = "";
  if (container)
    add_query(query, sizeof query, "container", container);
  if (follow)
    add_query(query, sizeof query, "follow", "1");
  if (timestamps)
    add_query(query, sizeof query, "timestamps", "1");
  if (previous)
    add_query(query, sizeof query, "previous", "1");
  if (tail) {
    char *end;
    long long n = strtoll(tail, &end, 10);
    if (*end || end == tail || n < 0) {
      fprintf(stderr, "tank logs: --tail %s is not a number of lines\n", tail);
      return 2;
    }
    add_query(query, sizeof query, "tail", tail);
  }
  if (since) {
    /* A duration counts back from now on this side, so it means what the user saw. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ns;
    if (log_parse_since(since, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, &ns) < 0) {
      fprintf(stderr,
              "tank logs: --since %s is neither a duration (10s, 5m, 1h30m) nor an RFC 3339 "
              "time\n",
              since);
      return 2;
    }
    time_t secs = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char t[64];
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t + n, sizeof t - n, ".%09" PRId64 "Z", (int64_t)(ns % 1000000000LL));
    add_query(query, sizeof query, "since", t);
  }
  char path[1536];
  snprintf(path, sizeof path, "/v1/pods/%s/logs%s", pod, query);
  struct api_client c = client(socket_path);
  struct logs_out out = { 0 };
  long status = 0;
  tank_error *err = NULL;
  if (api_stream_raw(&c, path, on_log_data, &out, &status, &err) < 0) {
    fprintf(stderr, "tank logs: %s\n", err->msg);
    tank_error_free(err);
    free(out.err_body);
    return 1;
  }
  if (status != 200) {
    json_t *j = out.err_body ? json_loads(out.err_body, 0, NULL) : NULL;
    api_print_error(j, status);
    json_decref(j);
    free(out.err_body);
    return 1;
  }
  return 0;
}

/* ---- stats ----------------------------------------------------------------------- */

struct stats_opts {
  bool json, clear;
  int status;
};

/* 1.5KiB, 12MiB: binary units like docker's memory column. */
static void
human_bytes(char out[static 16], json_t *v)
{
  if (!json_is_integer(v)) {
    snprintf(out, 16, "-");
    return;
  }
  double b = (double)json_integer_value(v);
  const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  size_t u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, 16, "%.0f%s", b, units[u]);
  else
    snprintf(out, 16, "%.3g%s", b, units[u]);
}

static void
stats_row(const char *name, json_t *o, json_t *net_from)
{
  char cpu[16] = "-", used[16], limit[16], rx[16], tx[16], rd[16], wr[16], pids[16] = "-";
  json_t *pct = json_object_get(o, "cpu_percent");
  if (json_is_number(pct))
    snprintf(cpu, sizeof cpu, "%.2f%%", json_number_value(pct));
  human_bytes(used, json_object_get(o, "memory_bytes"));
  json_t *lim = json_object_get(o, "memory_limit_bytes");
  if (json_is_integer(lim) && json_integer_value(lim) == 0)
    snprintf(limit, sizeof limit, "-");
  else
    human_bytes(limit, lim);
  human_bytes(rx, json_object_get(net_from, "net_rx_bytes"));
  human_bytes(tx, json_object_get(net_from, "net_tx_bytes"));
  human_bytes(rd, json_object_get(o, "block_read_bytes"));
  human_bytes(wr, json_object_get(o, "block_write_bytes"));
  if (json_is_integer(json_object_get(o, "pids")))
    snprintf(pids, sizeof pids, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(o, "pids")));
  char mem[40], net[40], blk[40];
  snprintf(mem, sizeof mem, "%s / %s", used, limit);
  snprintf(net, sizeof net, "%s / %s", rx, tx);
  snprintf(blk, sizeof blk, "%s / %s", rd, wr);
  /* 14 + 8 + 20 + 17 + 17 + 4 = 80 columns at most */
  printf("%-13.13s %7s %-19.19s %-16.16s %-16.16s %4s\n", name, cpu, mem, net, blk, pids);
}

static int
on_stats_line(const char *line, size_t len, void *userdata)
{
  struct stats_opts *o = userdata;
  if (len == 0)
    return 0;
  json_t *doc = json_loadb(line, len, 0, NULL);
  if (doc == NULL || json_object_get(doc, "error")) {
    api_print_error(doc, 0);
    json_decref(doc);
    o->status = 1;
    return 1;
  }
  if (o->json) {
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
  } else {
    if (o->clear)
      fputs("\033[H\033[2J", stdout);
    printf("%-13s %7s %-19s %-16s %-16s %4s\n", "POD/CONTAINER", "CPU %", "MEM USE / LIMIT",
           "NET RX / TX", "BLOCK READ/WRITE", "PIDS");
    size_t i;
    json_t *pod;
    json_array_foreach(json_object_get(doc, "pods"), i, pod)
    {
      stats_row(json_string_value(json_object_get(pod, "name")), pod, pod);
      size_t j;
      json_t *c;
      json_array_foreach(json_object_get(pod, "containers"), j, c)
      {
        char name[64];
        snprintf(name, sizeof name, "  %s", json_string_value(json_object_get(c, "name")));
        if (json_is_true(json_object_get(c, "running")))
          stats_row(name, c, pod); /* the containers share the pod's network */
        else
          printf("%-13.13s %7s\n", name, "-");
      }
    }
    if (!o->clear)
      putchar('\n');
  }
  fflush(stdout);
  json_decref(doc);
  return 0;
}

int
verb_stats(int argc, char **argv)
{
  static const struct option opts[]
      = { { "no-stream", no_argument, NULL, 'n' },      { "output", required_argument, NULL, 'o' },
          { "interval", required_argument, NULL, 'i' }, { "socket", required_argument, NULL, 'S' },
          { "help", no_argument, NULL, 'h' },           { 0 } };
  bool no_stream = false;
  struct stats_opts so = { 0 };
  const char *socket_path = NULL;
  long interval_ms = 0;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "no:i:h", opts, NULL)) != -1) {
    switch (ch) {
      case 'n':
        no_stream = true;
        break;
      case 'o':
        if (strcmp(optarg, "json") == 0) {
          so.json = true;
        } else if (strcmp(optarg, "table") != 0) {
          fprintf(stderr, "tank stats: -o json or -o table, not `%s`\n", optarg);
          return 2;
        }
        break;
      case 'i': {
        char *end;
        interval_ms = strtol(optarg, &end, 10);
        if (strcmp(end, "s") == 0)
          interval_ms *= 1000;
        else if (strcmp(end, "ms") != 0 && *end)
          interval_ms = -1;
        if (interval_ms < 100 || interval_ms > 60000) {
          fprintf(stderr, "tank stats: --interval between 100ms and 60s (e.g. 500ms, 2s)\n");
          return 2;
        }
        break;
      }
      case 'S':
        socket_path = optarg;
        break;
      case 'h':
        printf("Usage: tank stats [POD...] [--no-stream] [-o json] [--interval D]\n\n"
               "Resource use per pod and container: CPU (%% of one CPU), memory (working\n"
               "set) and its limit, network received/sent (the pod's interfaces but lo),\n"
               "block I/O read/written, processes. Refreshed every interval (1s) until\n"
               "interrupted; --no-stream prints one sample (taken over 500ms) and exits.\n"
               "-o json prints the API's documents (one per line).\n");
        return 0;
      default:
        return 2;
    }
  }
  char path[2048];
  size_t len = (size_t)snprintf(path, sizeof path, "/v1/stats?interval_ms=%ld%s",
                                interval_ms ? interval_ms : (no_stream ? 500 : 1000),
                                no_stream ? "" : "&stream=1");
  for (int i = optind; i < argc; i++) {
    if (strlen(argv[i]) > 63 || strpbrk(argv[i], ",&?/%# ")) {
      fprintf(stderr, "tank stats: `%s` is not a pod name\n", argv[i]);
      return 2;
    }
    len += (size_t)snprintf(path + len, sizeof path - len, "%s%s", i == optind ? "&pods=" : ",",
                            argv[i]);
    if (len >= sizeof path) {
      fprintf(stderr, "tank stats: too many pods\n");
      return 2;
    }
  }
  so.clear = !no_stream && !so.json && isatty(STDOUT_FILENO);
  struct api_client c = client(socket_path);
  long status = 0;
  tank_error *err = NULL;
  if (api_stream(&c, path, on_stats_line, &so, &status, &err) < 0) {
    fprintf(stderr, "tank stats: %s\n", err->msg);
    tank_error_free(err);
    return 1;
  }
  return so.status ? so.status : (status == 200 ? 0 : 1);
}
