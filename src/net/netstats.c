/* /proc/net/dev of a pod's network namespace: a thread enters the namespace,
 * opens /proc/thread-self/net/dev (the open binds the file to the thread's
 * namespace), reads it and ends, taking its namespace with it. */
#include "net/netstats.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

#define NET_DEV_MAX_BYTES (1024 * 1024)

int
net_dev_stats_parse(const char *text, struct net_dev_stats **ret, size_t *ret_n)
{
  /* Two header lines, then "  name: rx(8 fields) tx(8 fields)". */
  const char *p = strchr(text, '\n');
  if (p == NULL || strstr(text, "Receive") == NULL)
    return -EINVAL;
  p = strchr(p + 1, '\n');
  if (p == NULL)
    return -EINVAL;
  p++;
  struct net_dev_stats *v = NULL;
  size_t n = 0;
  while (*p) {
    const char *eol = strchrnul(p, '\n');
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon) {
      const char *name = p;
      while (name < colon && *name == ' ')
        name++;
      size_t nlen = (size_t)(colon - name);
      unsigned long long f[16];
      char line[512];
      size_t llen = (size_t)(eol - colon - 1) < sizeof line - 1 ? (size_t)(eol - colon - 1)
                                                                : sizeof line - 1;
      memcpy(line, colon + 1, llen);
      line[llen] = '\0';
      if (nlen > 0 && nlen < IF_NAMESIZE
          && sscanf(line,
                    "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
                    "%llu %llu",
                    &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10],
                    &f[11], &f[12], &f[13], &f[14], &f[15])
                 == 16) {
        struct net_dev_stats *nv = realloc(v, (n + 1) * sizeof *v);
        if (nv == NULL) {
          free(v);
          return -ENOMEM;
        }
        v = nv;
        struct net_dev_stats *s = &v[n++];
        memset(s, 0, sizeof *s);
        memcpy(s->name, name, nlen);
        s->rx_bytes = f[0];
        s->rx_packets = f[1];
        s->rx_errors = f[2];
        s->rx_dropped = f[3];
        s->tx_bytes = f[8];
        s->tx_packets = f[9];
        s->tx_errors = f[10];
        s->tx_dropped = f[11];
      }
    }
    p = *eol ? eol + 1 : eol;
  }
  *ret = v;
  *ret_n = n;
  return 0;
}

struct reader_job {
  int netns_fd;
  char *text;
  int errnum;
  const char *step;
};

static void *
reader_thread(void *arg)
{
  struct reader_job *job = arg;
  if (job->netns_fd >= 0 && setns(job->netns_fd, CLONE_NEWNET) < 0) {
    job->errnum = errno;
    job->step = "enter the pod network namespace";
    return NULL;
  }
  _cleanup_close_ int fd = open("/proc/thread-self/net/dev", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    job->errnum = errno;
    job->step = "open /proc/thread-self/net/dev";
    return NULL;
  }
  size_t len;
  tank_error *err = NULL;
  if (read_fd_limited(fd, NET_DEV_MAX_BYTES, &job->text, &len, &err) < 0) {
    job->errnum = err->errnum ? err->errnum : EIO;
    job->step = "read /proc/thread-self/net/dev";
    tank_error_free(err);
  }
  return NULL;
}

int
net_dev_stats_read(const char *netns_path, struct net_dev_stats **ret, size_t *ret_n,
                   tank_error **err)
{
  _cleanup_close_ int ns = -EBADF;
  if (netns_path && (ns = open(netns_path, O_RDONLY | O_CLOEXEC)) < 0)
    return tank_error_set(err, errno, "open network namespace `%s`", netns_path);
  struct reader_job job = { .netns_fd = ns };
  pthread_t t;
  int r = pthread_create(&t, NULL, reader_thread, &job);
  if (r != 0)
    return tank_error_set(err, r, "start a thread to read network counters");
  pthread_join(t, NULL);
  _cleanup_free_ char *text = job.text;
  if (job.errnum)
    return tank_error_set(err, job.errnum, "%s (%s)", job.step,
                          netns_path ? netns_path : "own namespace");
  r = net_dev_stats_parse(text ? text : "", ret, ret_n);
  if (r < 0)
    return tank_error_set(err, -r, "parse /proc/net/dev of `%s`",
                          netns_path ? netns_path : "own namespace");
  return 0;
}
