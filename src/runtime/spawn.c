/* The checkpointed clone and everything the child does before execve. */
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/inroot.h"
#include "runtime/procsetup.h"
#include "runtime/rootfs.h"
#include "runtime/security.h"
#include "runtime/stage.h"
#include "runtime/user.h"
#include "util/cleanup.h"
#include "util/fileio.h"

/* What the child sends back when it fails (one write, below PIPE_BUF). */
static const int ns_clone_flag[CONFIG_NS_COUNT] = {
  [CONFIG_NS_MOUNT] = CLONE_NEWNS,      [CONFIG_NS_PID] = CLONE_NEWPID,
  [CONFIG_NS_CGROUP] = CLONE_NEWCGROUP, [CONFIG_NS_NET] = CLONE_NEWNET,
  [CONFIG_NS_UTS] = CLONE_NEWUTS,       [CONFIG_NS_IPC] = CLONE_NEWIPC,
};

struct child_ctx {
  const struct container_config *c;
  const struct process_plan *plan;
  const struct spawn_stdio *io;
  int join_fds[CONFIG_NS_COUNT];
  int report_fd;          /* write end, close-on-exec: EOF means exec succeeded */
  struct tank_cgroup *cg; /* v1: the child moves itself in (v2: CLONE_INTO_CGROUP) */
  bool unshare_cgroupns;
};

static int
setup_stdio(const struct spawn_stdio *io, tank_error **err)
{
  if (io->tty && setsid() < 0)
    return tank_error_set(err, errno, "setsid");
  int fds[3] = { io->in, io->out, io->err };
  /* Move them above 2 first so that dup2 of one cannot clobber another. */
  for (int i = 0; i < 3; i++) {
    int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
      return tank_error_set(err, errno, "dup stdio");
    fds[i] = fd;
  }
  for (int i = 0; i < 3; i++)
    if (dup2(fds[i], i) < 0)
      return tank_error_set(err, errno, "dup2 stdio %d", i);
  if (io->tty && ioctl(0, TIOCSCTTY, 0) < 0)
    return tank_error_set(err, errno, "TIOCSCTTY");
  return 0;
}

static int
join_namespaces(struct child_ctx *ctx, tank_error **err)
{
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    if (ctx->join_fds[i] >= 0 && setns(ctx->join_fds[i], 0) < 0)
      return tank_error_set(err, errno, "join %s namespace `%s`", config_ns_name(i),
                            ctx->c->ns_join[i]);
  return 0;
}

/* The child's first act, before it runs anything a limit should cover: the
 * kernel lets a single thread move itself without waiting for an RCU grace
 * period, which the shim writing the child's pid would (cgroup-v1.c). */
static int
enter_cgroup(struct child_ctx *ctx, tank_error **err)
{
  if (ctx->cg == NULL)
    return 0;
  return cgroup_attach(ctx->cg, 0, err);
}

static int
unshare_cgroupns(struct child_ctx *ctx, tank_error **err)
{
  /* A cgroup namespace is rooted where the process is when it is made. */
  if (ctx->unshare_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
    return tank_error_set(err, errno, "unshare the cgroup namespace");
  return 0;
}

/* init: true -- a reaper as PID 1 that forwards signals to the workload,
 * reaps every orphan, and exits as the workload did. */
static _Noreturn void
run_reaper(struct child_ctx *ctx)
{
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  /* The workload waits at the gate until the reaper holds nothing but 0-2:
   * the reaper never execs, so it closes by hand what close-on-exec would. */
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0)
    STEP("init", tank_error_set(err, errno, "pipe"));
  pid_t pid = fork();
  if (pid < 0)
    STEP("init", tank_error_set(err, errno, "fork the workload"));
  if (pid == 0) {
    char b;
    close(gate[1]);
    while (read(gate[0], &b, 1) < 0 && errno == EINTR)
      ;
    close(gate[0]);
    STEP("reset_signals", procsetup_reset_signals(err));
    STEP("exec", procsetup_exec(ctx->plan, err));
    _exit(127);
  }
  syscall(SYS_close_range, 3, ~0U, 0);
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&all, &si) < 0)
      continue;
    if (si.si_signo != SIGCHLD) {
      kill(pid, si.si_signo);
      continue;
    }
    int status;
    pid_t w;
    while ((w = waitpid(-1, &status, WNOHANG)) > 0)
      if (w == pid)
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

static int
child_main(void *arg)
{
  struct child_ctx *ctx = arg;
  const struct container_config *c = ctx->c;
  int root_fd = -EBADF;
  STEP("cgroup", enter_cgroup(ctx, err));
  umask(0);
  STEP("stdio", setup_stdio(ctx->io, err));
  STEP("join_namespaces", join_namespaces(ctx, err));
  STEP("cgroupns", unshare_cgroupns(ctx, err));
  STEP("mount_private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
                            ? tank_error_set(err, errno, "make / private")
                            : 0);
  if (c->hostname && c->ns_create[CONFIG_NS_UTS])
    STEP("hostname", sethostname(c->hostname, strlen(c->hostname)) < 0
                         ? tank_error_set(err, errno, "sethostname `%s`", c->hostname)
                         : 0);
  STEP("mount_rootfs", rootfs_mount_overlay(c, &root_fd, err));
  STEP("mount_system", rootfs_mount_system(root_fd, err));
  STEP("mount_dev", rootfs_mount_dev(root_fd, ctx->io->tty, err));
  STEP("mount_volumes", rootfs_mount_binds(c, root_fd, err));
  STEP("mask_paths", rootfs_mask_paths(root_fd, err));
  STEP("pivot_root", rootfs_pivot(root_fd, err));
  close(root_fd);
  umask(022);
  const char *stage = NULL;
  tank_error *enter_err = NULL;
  if (procsetup_enter(c, (struct process_plan *)ctx->plan, /* create_cwd= */ true, &stage,
                      &enter_err)
      < 0)
    stage_fail(ctx->report_fd, stage, enter_err);
  if (c->init)
    run_reaper(ctx);
  STEP("reset_signals", procsetup_reset_signals(err));
  STEP("exec", procsetup_exec(ctx->plan, err));
  _exit(127);
}

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

/* clone3 (with CLONE_INTO_CGROUP on v2) when the kernel has it, else clone.
 * Returns like fork: 0 in the child. */
static pid_t
clone_container(uint64_t flags, int cgroup_fd, int *ret_pidfd)
{
  struct clone_args_v0 args = {
    .flags = flags | CLONE_PIDFD,
    .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
    .exit_signal = SIGCHLD,
  };
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid >= 0 || errno != ENOSYS)
    return (pid_t)pid;
  if (cgroup_fd >= 0)
    return -ENOTSUP;
  return (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), NULL, ret_pidfd,
                        NULL, 0);
}

int
container_spawn(const struct container_config *c, const struct process_plan *plan,
                struct tank_cgroup *cg, const struct spawn_stdio *io, pid_t *ret_pid,
                int *ret_pidfd, tank_error **err)
{
  struct child_ctx ctx = { .c = c, .plan = plan, .io = io };
  int join_fds[CONFIG_NS_COUNT];
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    join_fds[i] = ctx.join_fds[i] = -EBADF;
  int ret = 0;
  int report_pipe[2] = { -EBADF, -EBADF };
  for (int i = 0; i < CONFIG_NS_COUNT; i++) {
    if (c->ns_join[i] == NULL)
      continue;
    join_fds[i] = ctx.join_fds[i] = open(c->ns_join[i], O_RDONLY | O_CLOEXEC);
    if (join_fds[i] < 0) {
      ret = tank_error_set(err, errno, "stage=join_namespaces errno=%s: open `%s`",
                           errno_name(errno), c->ns_join[i]);
      goto out;
    }
  }
  if (pipe2(report_pipe, O_CLOEXEC) < 0) {
    ret = tank_error_set(err, errno, "stage=clone errno=%s: pipe", errno_name(errno));
    goto out;
  }
  ctx.report_fd = report_pipe[1];

  uint64_t flags = 0;
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    if (c->ns_create[i])
      flags |= (uint64_t)ns_clone_flag[i];
  int cgroup_fd = cg ? cgroup_clone_fd(cg) : -1;
  if (cg && cgroup_fd < 0)
    ctx.cg = cg;
  /* A cgroup namespace is rooted where the process is when it is made: on v1 the
   * child moves itself only after the clone, so it unshares its own after the move. */
  if ((flags & CLONE_NEWCGROUP) && cgroup_fd < 0) {
    flags &= ~(uint64_t)CLONE_NEWCGROUP;
    ctx.unshare_cgroupns = true;
  }
  int pidfd = -EBADF;
  pid_t pid = clone_container(flags, cgroup_fd, &pidfd);
  if (pid == 0)
    child_main(&ctx);
  if (pid < 0) {
    int en = pid == -ENOTSUP ? ENOTSUP : errno;
    ret = tank_error_set(err, en, "stage=clone errno=%s: clone3 into new namespaces",
                         errno_name(en));
    goto out;
  }
  close(report_pipe[1]);
  report_pipe[1] = -EBADF;
  struct child_report rep;
  ssize_t n;
  do
    n = read(report_pipe[0], &rep, sizeof rep);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    rep.msg[sizeof rep.msg - 1] = '\0';
    waitpid(pid, NULL, 0);
    close(pidfd);
    tank_error *e = calloc(1, sizeof *e);
    if (e == NULL || (e->msg = strdup(rep.msg)) == NULL)
      abort();
    e->errnum = rep.errnum > 0 ? rep.errnum : EINVAL;
    if (err && *err == NULL)
      *err = e;
    else
      tank_error_free(e);
    ret = -(rep.errnum > 0 ? rep.errnum : EINVAL);
    goto out;
  }
  *ret_pid = pid;
  *ret_pidfd = pidfd;
out:
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    if (join_fds[i] >= 0)
      close(join_fds[i]);
  for (int i = 0; i < 2; i++)
    if (report_pipe[i] >= 0)
      close(report_pipe[i]);
  return ret;
}
