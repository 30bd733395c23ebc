/* Atomic JSON state files and process identity helpers. */
#include "runtime/state.h"

#include <errno.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

int
state_write_json(const char *dir, const char *name, json_t *doc, tank_error **err)
{
  _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0)
    return tank_error_set(err, errno, "open state dir `%s`", dir);
  _cleanup_free_ char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(2));
  if (text == NULL)
    return tank_error_set(err, ENOMEM, "serialize %s", name);
  char tmp[256];
  snprintf(tmp, sizeof tmp, ".%s.tmp", name);
  _cleanup_close_ int fd
      = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return tank_error_set(err, errno, "create `%s/%s`", dir, tmp);
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return tank_error_set(err, errno, "write `%s/%s`", dir, tmp);
    off += (size_t)w;
  }
  /* No fsync: the state dir lives under $RUN, which a reboot empties anyway;
   * rename alone is what keeps readers from seeing half a document. */
  if (write(fd, "\n", 1) != 1)
    return tank_error_set(err, errno, "write `%s/%s`", dir, tmp);
  /* Swap with the previous version rather than rename over it: ext4 writes a
   * file renamed over another back at once (auto_da_alloc), ~60 us per state
   * write; an exchange is as atomic for readers. */
  if (renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == 0) {
    unlinkat(dfd, tmp, 0);
    return 0;
  }
  if (renameat(dfd, tmp, dfd, name) < 0) /* the first version, or no RENAME_EXCHANGE */
    return tank_error_set(err, errno, "rename `%s/%s` to `%s`", dir, tmp, name);
  return 0;
}

int
proc_start_time(pid_t pid, uint64_t *ret, tank_error **err)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", path);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0)
    return tank_error_set(err, n < 0 ? errno : EIO, "read `%s`", path);
  buf[n] = '\0';
  /* comm may hold spaces and parens: count fields after the last ')'. */
  char *p = strrchr(buf, ')');
  if (p == NULL)
    return tank_error_set(err, EINVAL, "parse `%s`", path);
  p++;
  for (int field = 3; field < 22 && p; field++)
    p = strchr(p + 1, ' ');
  if (p == NULL)
    return tank_error_set(err, EINVAL, "parse `%s`", path);
  *ret = strtoull(p + 1, NULL, 10);
  return 0;
}

void
rfc3339_now(char buf[static 40])
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, 40 - n, ".%09ldZ", ts.tv_nsec);
}

bool
proc_reap_pidfd(int pidfd, int *ret_code, int *ret_signal)
{
  siginfo_t si = { 0 };
  if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
    return false;
  *ret_signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
  *ret_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
  return true;
}
