/* tankd's observability endpoints: container logs (logs.c), resource stats
 * (stats.c) and Prometheus metrics (metrics.c), with the hooks the reconciler
 * and the pull workers call to feed the metrics. */
#pragma once

#include "api/http.h"
#include "util/error.h"

struct tankd;

/* GET /v1/pods/NAME/logs?container=C&follow=1&tail=N&since=T&timestamps=1&previous=1:
 * the container's output as text lines; follow streams new lines as they are
 * written (inotify), across rotation and restarts, until the client leaves. */
void logs_get(struct tankd *d, const char *pod, const struct http_request *req,
              struct http_reply *reply);

/* GET /v1/stats?pods=a,b&stream=1&interval_ms=N: one JSON document per
 * interval, {"time", "interval_ms", "pods": [...]} (podstats.h); without
 * stream=1 a single document after one interval. */
void stats_get(struct tankd *d, const struct http_request *req, struct http_reply *reply);

/* GET /metrics in the Prometheus text format. */
void metrics_get(struct tankd *d, const struct http_request *req, struct http_reply *reply);

/* The TCP listener for /metrics from the config (metrics_listen "HOST:PORT");
 * nothing when it is unset. */
int metrics_listen_start(struct tankd *d, tank_error **err);
void metrics_listen_stop(void);

/* Thread-safe: one reconcile pass of one pod took `seconds`; a pull of
 * `image` took `seconds` (at most 64 images get their own label; the rest
 * share image="other"). */
void metrics_observe_reconcile(double seconds);
void metrics_observe_pull(const char *image, double seconds);

/* Where tankd's pod cgroups live (d->machine, or the defaults). */
const char *observe_cgroup_fs(const struct tankd *d);
const char *observe_cgroup_root(const struct tankd *d);
