/* bench_store URL [N]: acknowledged single-key puts per second and
 * put -> watch-event latency through the store seam, for any backend. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

static int64_t
now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t
pct(int64_t *v, size_t n, double p)
{
  qsort(v, n, sizeof *v, cmp_i64);
  size_t i = (size_t)(p * (double)(n - 1));
  return v[i];
}

/* Waits for the event of revision rev on w. */
static int
wait_event(tank_store_watch *w, int64_t rev, tank_error **err)
{
  for (;;) {
    struct tank_store_event ev;
    int r;
    while ((r = tank_store_watch_next(w, &ev, err)) > 0) {
      int64_t got = ev.rev;
      tank_store_event_clear(&ev);
      if (got >= rev)
        return 0;
    }
    if (r < 0)
      return r;
    struct pollfd p = { .fd = tank_store_watch_fd(w), .events = POLLIN };
    if (poll(&p, 1, 5000) == 0)
      return tank_error_set(err, ETIMEDOUT, "no event for revision %lld", (long long)rev);
  }
}

/* put -> event across processes: a child puts values that carry their send
 * time (CLOCK_MONOTONIC is system-wide); this process watches. */
static int
cross_process(const char *url, tank_store *s, size_t m, int64_t *lat, tank_error **err)
{
  /* Fork first: a child of a threaded process (the etcd watch thread) may
   * inherit a held lock. The child starts when the pipe closes. */
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0)
    return tank_error_set(err, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0)
    return tank_error_set(err, errno, "fork");
  if (pid == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 0)
      _exit(3);
    tank_store *cs = NULL;
    tank_error *cerr = NULL;
    if (tank_store_open(url, &cs, &cerr) < 0)
      _exit(1);
    for (size_t i = 0; i < m; i++) {
      char v[32];
      int n = snprintf(v, sizeof v, "%" PRId64, now_us());
      if (tank_store_put(cs, "/bench-x/key", v, (size_t)n, 0, NULL, &cerr) < 0)
        _exit(2);
      /* One at a time, like a person or a controller: wait a little between puts. */
      struct timespec ts = { 0, 200000 };
      nanosleep(&ts, NULL);
    }
    _exit(0);
  }
  close(go[0]);
  tank_store_watch *w = NULL;
  int r0 = tank_store_watch_open(s, "/bench-x/", 0, &w, err);
  close(go[1]);
  if (r0 < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return r0;
  }
  size_t got = 0;
  while (got < m) {
    struct tank_store_event ev;
    int r;
    while (got < m && (r = tank_store_watch_next(w, &ev, err)) > 0) {
      lat[got++] = now_us() - strtoll((char *)ev.value, NULL, 10);
      tank_store_event_clear(&ev);
    }
    if (r < 0)
      break;
    struct pollfd p = { .fd = tank_store_watch_fd(w), .events = POLLIN };
    if (got < m && poll(&p, 1, 5000) == 0)
      break;
  }
  int st;
  waitpid(pid, &st, 0);
  tank_store_watch_free(w);
  if (got < m)
    return tank_error_set(err, ETIMEDOUT, "cross-process watch saw %zu of %zu events", got, m);
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s URL [N]\n", argv[0]);
    return 2;
  }
  size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
  tank_store *s = NULL;
  tank_error *err = NULL;
  if (tank_store_open(argv[1], &s, &err) < 0) {
    fprintf(stderr, "%s\n", err->msg);
    return 1;
  }
  char value[256];
  memset(value, 'v', sizeof value);
  int64_t *lat = calloc(n, sizeof *lat), *wlat = calloc(n, sizeof *wlat);
  /* warm up */
  for (int i = 0; i < 20; i++)
    if (tank_store_put(s, "/bench/key", value, sizeof value, 0, NULL, &err) < 0)
      goto fail;
  int64_t t0 = now_us();
  for (size_t i = 0; i < n; i++) {
    int64_t a = now_us();
    if (tank_store_put(s, "/bench/key", value, sizeof value, 0, NULL, &err) < 0)
      goto fail;
    lat[i] = now_us() - a;
  }
  double secs = (double)(now_us() - t0) / 1e6;

  tank_store_watch *w = NULL;
  if (tank_store_watch_open(s, "/bench/", 0, &w, &err) < 0)
    goto fail;
  size_t m = n < 2000 ? n : 2000;
  for (size_t i = 0; i < m; i++) {
    int64_t a = now_us(), rev;
    if (tank_store_put(s, "/bench/key", value, sizeof value, 0, &rev, &err) < 0
        || wait_event(w, rev, &err) < 0)
      goto fail;
    wlat[i] = now_us() - a;
  }
  tank_store_watch_free(w);
  size_t x = m < 1000 ? m : 1000;
  int64_t *xlat = calloc(x, sizeof *xlat);
  if (cross_process(argv[1], s, x, xlat, &err) < 0)
    goto fail;
  printf("%-8s puts/s %8.0f  put p50 %6lld us  p99 %6lld us  put->event p50 %6lld us  p99 %6lld "
         "us  other process p50 %6lld us  (%zu puts, %s)\n",
         s->ops->name, (double)n / secs, (long long)pct(lat, n, 0.5), (long long)pct(lat, n, 0.99),
         (long long)pct(wlat, m, 0.5), (long long)pct(wlat, m, 0.99), (long long)pct(xlat, x, 0.5),
         n, argv[1]);
  free(xlat);
  free(lat);
  free(wlat);
  tank_store_close(s);
  return 0;
fail:
  fprintf(stderr, "bench: %s\n", err ? err->msg : "failed");
  return 1;
}
