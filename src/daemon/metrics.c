/* GET /metrics: cAdvisor-named container metrics sampled at scrape time, pod
 * restarts and phases from the records, and the histograms that the
 * reconciler and the pull workers feed. Also the optional TCP listener. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/prom.h"
#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "daemon/podstats.h"

/* ---- histograms fed from any thread ------------------------------------------------ */

static const double reconcile_bounds[]
    = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
static struct prom_histogram reconcile_hist
    = PROM_HISTOGRAM_INIT(reconcile_bounds, sizeof reconcile_bounds / sizeof reconcile_bounds[0]);

static const double pull_bounds[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };

#define PULL_MAX_IMAGES 64 /* bounded label cardinality: the rest are image="other" */

static pthread_mutex_t pull_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pull_hist {
  char *image;
  struct prom_histogram h;
} pulls[PULL_MAX_IMAGES + 1];
static size_t n_pulls;

void
metrics_observe_reconcile(double seconds)
{
  prom_histogram_observe(&reconcile_hist, seconds);
}

void
metrics_observe_pull(const char *image, double seconds)
{
  pthread_mutex_lock(&pull_lock);
  struct pull_hist *ph = NULL;
  for (size_t i = 0; i < n_pulls && ph == NULL; i++)
    if (strcmp(pulls[i].image, image) == 0)
      ph = &pulls[i];
  if (ph == NULL) {
    const char *label = n_pulls < PULL_MAX_IMAGES ? image : "other";
    for (size_t i = 0; i < n_pulls && ph == NULL; i++)
      if (strcmp(pulls[i].image, label) == 0)
        ph = &pulls[i];
    if (ph == NULL && (ph = &pulls[n_pulls])->image == NULL) {
      ph->image = strdup(label);
      if (ph->image == NULL)
        abort();
      ph->h = (struct prom_histogram)PROM_HISTOGRAM_INIT(pull_bounds, sizeof pull_bounds
                                                                          / sizeof pull_bounds[0]);
      n_pulls++;
    }
  }
  pthread_mutex_unlock(&pull_lock);
  prom_histogram_observe(&ph->h, seconds);
}

/* ---- the scrape ----------------------------------------------------------------------- */

static int
by_name(const void *a, const void *b)
{
  const struct pod_rec *x = *(struct pod_rec *const *)a, *y = *(struct pod_rec *const *)b;
  return strcmp(x->name, y->name);
}

static const enum pod_phase all_phases[]
    = { POD_PENDING,     POD_PULLING,  POD_STARTING, POD_RUNNING,
        POD_BACKING_OFF, POD_TERMINAL, POD_FAILED,   POD_DELETING };

static char *
render(struct tankd *d)
{
  size_t n = 0;
  struct pod_rec **v = calloc(d->n_pods + 1, sizeof *v);
  if (v == NULL)
    abort();
  for (struct pod_rec *p = d->pods; p; p = p->next)
    if (p->desired)
      v[n++] = p;
  qsort(v, n, sizeof *v, by_name);

  struct pod_sample *samples = calloc(n + 1, sizeof *samples);
  if (samples == NULL)
    abort();
  struct podstats_paths paths
      = { observe_cgroup_fs(d), observe_cgroup_root(d), d->cfg.run_dir, CGROUP_VERSION_AUTO };
  for (size_t i = 0; i < n; i++) {
    size_t nc = v[i]->desired->n_containers;
    char **ctrs = calloc(nc + 1, sizeof *ctrs);
    if (ctrs == NULL)
      abort();
    for (size_t c = 0; c < nc; c++)
      ctrs[c] = v[i]->desired->containers[c].name;
    podstats_sample(&paths, v[i]->name, ctrs, nc, &samples[i]);
    free(ctrs);
  }

  struct prom_buf b = { 0 };
  podstats_prom(&b, samples, n);

  prom_family(&b, "tank_pod_restarts_total", "counter",
              "Restarts of the pod's containers since tankd started following them.");
  for (size_t i = 0; i < n; i++) {
    json_t *st = pod_status_json(d, v[i]);
    const char *labels[] = { "pod", v[i]->name, NULL };
    prom_sample(&b, "tank_pod_restarts_total", labels,
                (double)json_integer_value(json_object_get(st, "restarts")));
    json_decref(st);
  }
  prom_family(&b, "tank_pod_phase", "gauge", "The pod's phase: 1 for the current one, else 0.");
  for (size_t i = 0; i < n; i++)
    for (size_t ph = 0; ph < sizeof all_phases / sizeof all_phases[0]; ph++) {
      const char *labels[] = { "pod", v[i]->name, "phase", pod_phase_name(all_phases[ph]), NULL };
      prom_sample(&b, "tank_pod_phase", labels, v[i]->plan.phase == all_phases[ph] ? 1 : 0);
    }
  prom_family(&b, "tank_reconcile_duration_seconds", "histogram",
              "Time of one reconcile pass over one pod (plan and dispatch, on the event loop).");
  prom_histogram_write(&b, "tank_reconcile_duration_seconds", NULL, &reconcile_hist);
  prom_family(&b, "tank_image_pull_duration_seconds", "histogram",
              "Time to make an image present in the cache (pull and unpack).");
  pthread_mutex_lock(&pull_lock);
  size_t np = n_pulls;
  pthread_mutex_unlock(&pull_lock);
  for (size_t i = 0; i < np; i++) {
    const char *labels[] = { "image", pulls[i].image, NULL };
    prom_histogram_write(&b, "tank_image_pull_duration_seconds", labels, &pulls[i].h);
  }

  for (size_t i = 0; i < n; i++)
    pod_sample_clear(&samples[i]);
  free(samples);
  free(v);
  return prom_buf_steal(&b);
}

void
metrics_get(struct tankd *d, const struct http_request *req, struct http_reply *reply)
{
  reply->text = render(d);
  reply->content_type = PROM_CONTENT_TYPE;
}

/* ---- the TCP listener ------------------------------------------------------------------ */

static struct http_server *tcp_server;
static int tcp_fd = -1;

static void
tcp_handle(void *userdata, const struct http_request *req, struct http_reply *reply)
{
  if (strcmp(req->path, "/metrics") == 0 && strcmp(req->method, "GET") == 0)
    metrics_get(userdata, req, reply);
  else
    http_reply_error(reply, 404, NULL, "only GET /metrics is served here");
}

int
metrics_listen_start(struct tankd *d, tank_error **err)
{
  const char *addr = d->cfg.metrics_listen;
  if (addr == NULL || *addr == '\0')
    return 0;
  const char *colon = strrchr(addr, ':');
  char *end;
  unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
  if (colon == NULL || colon == addr || *end || port == 0 || port > 65535)
    return tank_error_set(err, EINVAL, "metrics_listen `%s` is not HOST:PORT (127.0.0.1:9101)",
                          addr);
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
  if (http_listen_tcp(host, (unsigned)port, &tcp_fd, err) < 0)
    return tank_error_wrap(err, "metrics listener");
  if (http_server_new(d->event, tcp_fd, 0, tcp_handle, d, &tcp_server, err) < 0) {
    metrics_listen_stop();
    return tank_error_wrap(err, "metrics listener");
  }
  return 0;
}

void
metrics_listen_stop(void)
{
  tcp_server = http_server_free(tcp_server);
  if (tcp_fd >= 0)
    close(tcp_fd);
  tcp_fd = -1;
}
