/* What a container process does between entering the container's root and
 * exec: shared by the container's init and by exec'd processes, so both run
 * under the same user, security settings and file-descriptor rules. */
#include "runtime/procsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/inroot.h"
#include "runtime/security.h"
#include "runtime/user.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static int
read_in_root(const char *path, char **ret, tank_error **err)
{
  _cleanup_close_ int fd = -EBADF;
  tank_error *e = NULL;
  if (inroot_open(AT_FDCWD, path, O_RDONLY, 0, &fd, &e) < 0) {
    int en = e->errnum;
    tank_error_free(e);
    if (en == ENOENT) {
      *ret = NULL;
      return 0;
    }
    return tank_error_set(err, en, "open `%s`", path);
  }
  int r = read_fd_limited(fd, USER_MAX_FILE, ret, NULL, err);
  if (r < 0)
    return tank_error_wrap(err, "read `%s`", path);
  return 0;
}

static int
resolve_user(const char *spec, struct user_ids *ids, tank_error **err)
{
  /* After pivot_root "/" is the container's root: these are the image's own files. */
  _cleanup_free_ char *passwd = NULL, *group = NULL;
  int r;
  if ((r = read_in_root("/etc/passwd", &passwd, err)) < 0
      || (r = read_in_root("/etc/group", &group, err)) < 0)
    return r;
  return user_resolve(spec, passwd, group, ids, err);
}

static int
enter_cwd(const char *cwd, bool create, tank_error **err)
{
  _cleanup_close_ int fd = -EBADF;
  int r = create ? inroot_mkdir_p(AT_FDCWD, cwd, 0755, &fd, err)
                 : inroot_open(AT_FDCWD, cwd, O_PATH | O_DIRECTORY, 0, &fd, err);
  if (r < 0)
    return r;
  if (fchdir(fd) < 0)
    return tank_error_set(err, errno, "chdir `%s`", cwd);
  return 0;
}

int
procsetup_reset_signals(tank_error **err)
{
  sigset_t all;
  sigemptyset(&all);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      signal(s, SIG_DFL);
  if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
    return tank_error_set(err, errno, "reset the signal mask");
  return 0;
}

int
procsetup_exec(const struct process_plan *plan, tank_error **err)
{
  const char *file = plan->argv[0];
  if (strchr(file, '/')) {
    execve(file, plan->argv, plan->env);
    return tank_error_set(err, errno, "exec `%s`", file);
  }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t i = 0; i < plan->n_env; i++)
    if (strncmp(plan->env[i], "PATH=", 5) == 0)
      path = plan->env[i] + 5;
  int saved = ENOENT;
  char buf[4096];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    int n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)(end - p), p, end == p ? "" : "/", file);
    if (n > 0 && (size_t)n < sizeof buf) {
      execve(buf, plan->argv, plan->env);
      if (errno != ENOENT && errno != ENOTDIR)
        saved = errno;
    }
    if (*end == '\0')
      break;
    p = end;
  }
  return tank_error_set(err, saved, "exec `%s` (searched PATH=%s)", file, path);
}

int
procsetup_enter(const struct container_config *c, struct process_plan *plan, bool create_cwd,
                const char **ret_stage, tank_error **err)
{
  struct user_ids ids;
  int r;
  if ((r = resolve_user(plan->user, &ids, err)) < 0) {
    *ret_stage = "user";
    return r;
  }
  if ((r = enter_cwd(plan->cwd, create_cwd, err)) < 0) {
    *ret_stage = "cwd";
    return r;
  }
  if (process_plan_env_default(plan, "HOME", ids.home) < 0) {
    *ret_stage = "env";
    return tank_error_set(err, ENOMEM, "HOME");
  }
  /* Nothing of ours may reach the workload: only 0-2 survive exec. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    *ret_stage = "close_fds";
    return tank_error_set(err, errno, "close_range");
  }
  if (c->no_new_privileges && (r = security_no_new_privs(err)) < 0) {
    *ret_stage = "no_new_privs";
    return r;
  }
  if (c->seccomp && (r = security_seccomp_load(err)) < 0) {
    *ret_stage = "seccomp";
    return r;
  }
  if ((r = security_switch_user(&ids, c->default_caps ? SECURITY_DEFAULT_CAPS : 0, err)) < 0) {
    *ret_stage = "capabilities";
    return r;
  }
  return 0;
}
