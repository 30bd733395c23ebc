/* Pod sandbox lifecycle. The namespaces are made by a clone()d helper that
 * shares our memory (CLONE_VM | CLONE_VFORK: no page-table copy of a big daemon,
 * and the helper reports failures by writing into our struct), and that runs
 * nothing but system calls before _exit, as a child of a threaded process must. */
#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/etcfiles.h"
#include "net/podconfig.h"
#include "util/cleanup.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define HELPER_STACK_BYTES (64 * 1024)

static const char *const ns_names[SANDBOX_NS_COUNT] = { "net", "uts", "ipc" };
static const int ns_types[SANDBOX_NS_COUNT] = { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC };

const char *
sandbox_ns_name(enum sandbox_ns ns)
{
  return (unsigned)ns < SANDBOX_NS_COUNT ? ns_names[ns] : "?";
}

static char *xasprintf_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf_path(const char *fmt, ...)
{
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    abort();
  va_end(ap);
  return s;
}

char *
sandbox_ns_path(const char *run_dir, const char *pod, enum sandbox_ns ns)
{
  return xasprintf_path("%s/pods/%s/ns/%s", run_dir, pod, sandbox_ns_name(ns));
}

char *
sandbox_etc_dir(const char *run_dir, const char *pod)
{
  return xasprintf_path("%s/pods/%s/etc", run_dir, pod);
}

/* Pod names become path components and the hostname: a DNS label, nothing else. */
static int
check_pod_name(const char *pod, tank_error **err)
{
  size_t n = pod ? strlen(pod) : 0;
  bool ok = n > 0 && n <= SANDBOX_POD_NAME_MAX && pod[0] != '-' && pod[n - 1] != '-';
  for (size_t i = 0; ok && i < n; i++)
    ok = (pod[i] >= 'a' && pod[i] <= 'z') || (pod[i] >= '0' && pod[i] <= '9') || pod[i] == '-';
  if (!ok)
    return tank_error_set(err, EINVAL,
                          "pod name `%s` is not a DNS label (a-z, 0-9, `-`, 1-%d "
                          "bytes)",
                          pod ? pod : "", SANDBOX_POD_NAME_MAX);
  return 0;
}

/* Whether path is a bound namespace file of the given type. */
static bool
is_ns_file(const char *path, int type)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct statfs sf;
  if (fd < 0 || fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC)
    return false;
  return ioctl(fd, NS_GET_NSTYPE) == type;
}

bool
sandbox_exists(const char *run_dir, const char *pod)
{
  for (int i = 0; i < SANDBOX_NS_COUNT; i++) {
    _cleanup_free_ char *p = sandbox_ns_path(run_dir, pod, i);
    if (!is_ns_file(p, ns_types[i]))
      return false;
  }
  return true;
}

enum helper_stage {
  STAGE_NONE = 0,
  STAGE_UNSHARE,
  STAGE_SYSCTL,
  STAGE_SETHOSTNAME,
  STAGE_BIND,
};

struct helper {
  int unshare_flags;
  const char *hostname;
  size_t hostname_len;
  const char *targets[SANDBOX_NS_COUNT];
  /* written by the helper */
  int failed_errno;
  enum helper_stage failed_stage;
  int failed_index;
};

/* Per-network-namespace defaults of a pod, as Docker sets them: unprivileged
 * ICMP echo sockets (ping without CAP_NET_RAW) and low ports bindable by any
 * user. Both only concern the pod's own namespace. */
static const struct {
  const char *path, *value;
  size_t len;
} pod_sysctls[] = {
  { "/proc/sys/net/ipv4/ping_group_range", "0 2147483647", sizeof "0 2147483647" - 1 },
  { "/proc/sys/net/ipv4/ip_unprivileged_port_start", "0", 1 },
};

static const char *const helper_sources[SANDBOX_NS_COUNT] = {
  "/proc/self/ns/net",
  "/proc/self/ns/uts",
  "/proc/self/ns/ipc",
};

/* Runs in the clone()d child on its own small stack: system calls only. Not
 * instrumented: the sanitizers know nothing of this stack. */
__attribute__((no_sanitize("address", "undefined"))) static int
helper_main(void *arg)
{
  struct helper *h = arg;
  if (unshare(h->unshare_flags) < 0) {
    h->failed_errno = errno;
    h->failed_stage = STAGE_UNSHARE;
    _exit(1);
  }
  /* /proc/sys/net is the namespace of whoever opens it: the new one, here. */
  for (size_t i = 0; (h->unshare_flags & CLONE_NEWNET) && i < ARRAY_SIZE(pod_sysctls); i++) {
    int fd = open(pod_sysctls[i].path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pod_sysctls[i].value, pod_sysctls[i].len) < 0) {
      h->failed_errno = errno;
      h->failed_stage = STAGE_SYSCTL;
      h->failed_index = (int)i;
      _exit(1);
    }
    close(fd);
  }
  if (sethostname(h->hostname, h->hostname_len) < 0) {
    h->failed_errno = errno;
    h->failed_stage = STAGE_SETHOSTNAME;
    _exit(1);
  }
  for (int i = 0; i < SANDBOX_NS_COUNT; i++)
    if (mount(helper_sources[i], h->targets[i], NULL, MS_BIND, NULL) < 0) {
      h->failed_errno = errno;
      h->failed_stage = STAGE_BIND;
      h->failed_index = i;
      _exit(1);
    }
  _exit(0);
}

static int
run_helper(struct helper *h, const char *pod, tank_error **err)
{
  _cleanup_free_ char *stack = malloc(HELPER_STACK_BYTES);
  int status;

  if (stack == NULL)
    return tank_error_set(err, ENOMEM, "pod `%s`: sandbox helper stack", pod);
  /* The helper shares our memory: a signal handler of ours must not run on its
   * stack. It inherits the all-blocked mask and exits before anything unblocks. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = clone(helper_main, stack + HELPER_STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, h);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (pid < 0)
    return tank_error_set(err, clone_errno, "pod `%s`: start the sandbox helper", pod);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return tank_error_set(err, errno, "pod `%s`: wait for the sandbox helper", pod);
  switch (h->failed_stage) {
    case STAGE_UNSHARE:
      return tank_error_set(err, h->failed_errno, "pod `%s`: sandbox helper: unshare namespaces",
                            pod);
    case STAGE_SYSCTL:
      return tank_error_set(err, h->failed_errno, "pod `%s`: sandbox helper: write `%s`", pod,
                            pod_sysctls[h->failed_index].path);
    case STAGE_SETHOSTNAME:
      return tank_error_set(err, h->failed_errno, "pod `%s`: sandbox helper: set hostname", pod);
    case STAGE_BIND:
      return tank_error_set(err, h->failed_errno, "pod `%s`: sandbox helper: bind %s onto `%s`",
                            pod, helper_sources[h->failed_index], h->targets[h->failed_index]);
    case STAGE_NONE:
      break;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return tank_error_set(err, 0, "pod `%s`: sandbox helper died (status %#x)", pod, status);
  return 0;
}

static int
mkdir_p_one(const char *path, mode_t mode, tank_error **err)
{
  if (mkdir(path, mode) < 0 && errno != EEXIST)
    return tank_error_set(err, errno, "create `%s`", path);
  return 0;
}

static int
create_namespaces(const char *run_dir, const char *pod, const struct net_config *net,
                  tank_error **err)
{
  _cleanup_free_ char *pods = xasprintf_path("%s/pods", run_dir);
  _cleanup_free_ char *dir = xasprintf_path("%s/pods/%s", run_dir, pod);
  _cleanup_free_ char *nsdir = xasprintf_path("%s/pods/%s/ns", run_dir, pod);
  char *targets[SANDBOX_NS_COUNT] = { 0 };
  struct helper h = {
    .unshare_flags = CLONE_NEWUTS | CLONE_NEWIPC,
    .hostname = pod,
    .hostname_len = strlen(pod),
  };
  int r = 0;

  if (net->mode != SPEC_NET_HOST)
    h.unshare_flags |= CLONE_NEWNET;
  if (mkdir_p_one(run_dir, 0755, err) < 0 || mkdir_p_one(pods, 0755, err) < 0
      || mkdir_p_one(dir, 0755, err) < 0 || mkdir_p_one(nsdir, 0755, err) < 0)
    return tank_error_wrap(err, "pod `%s`: sandbox dir", pod);
  for (int i = 0; i < SANDBOX_NS_COUNT && r == 0; i++) {
    targets[i] = sandbox_ns_path(run_dir, pod, i);
    h.targets[i] = targets[i];
    int fd = open(targets[i], O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
      r = tank_error_set(err, errno, "pod `%s`: create `%s`", pod, targets[i]);
    else
      close(fd);
  }
  if (r == 0)
    r = run_helper(&h, pod, err);
  for (int i = 0; i < SANDBOX_NS_COUNT; i++)
    free(targets[i]);
  return r;
}

int
sandbox_create(const char *run_dir, const char *pod, const struct net_config *net,
               const struct net_host *host, tank_error **err)
{
  _cleanup_free_ char *netns = NULL;
  _cleanup_free_ char *etc = NULL;
  _cleanup_close_ int netns_fd = -EBADF;
  int r;

  if ((r = check_pod_name(pod, err)) < 0 || (r = net_config_validate(net, err)) < 0) {
    tank_error_wrap(err, "create sandbox");
    return r;
  }
  if (sandbox_exists(run_dir, pod))
    return tank_error_set(err, EEXIST, "create sandbox of pod `%s`", pod);
  if ((r = create_namespaces(run_dir, pod, net, err)) < 0)
    goto fail;
  netns = sandbox_ns_path(run_dir, pod, SANDBOX_NS_NET);
  netns_fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (netns_fd < 0) {
    r = tank_error_set(err, errno, "pod `%s`: open `%s`", pod, netns);
    goto fail;
  }
  if ((r = net_pod_setup(netns_fd, pod, net, host, err)) < 0)
    goto fail;
  etc = sandbox_etc_dir(run_dir, pod);
  if ((r = net_write_etc_files(etc, pod, net, host, err)) < 0)
    goto fail;
  return 0;

fail:
  sandbox_destroy(run_dir, pod, NULL);
  tank_error_wrap(err, "create sandbox");
  return r;
}

int
sandbox_check(const char *run_dir, const char *pod, const struct net_config *net,
              const struct net_host *host, struct net_drift *ret, tank_error **err)
{
  if (check_pod_name(pod, err) < 0)
    return tank_error_wrap(err, "check sandbox");
  if (!sandbox_exists(run_dir, pod)) {
    struct net_drift d = { 0 };
    d.problems = calloc(1, sizeof *d.problems);
    if (d.problems == NULL || asprintf(&d.problems[0], "sandbox: namespaces not bound") < 0)
      abort();
    d.n = 1;
    *ret = d;
    return 0;
  }
  _cleanup_free_ char *netns = sandbox_ns_path(run_dir, pod, SANDBOX_NS_NET);
  _cleanup_close_ int fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "check sandbox of pod `%s`: open `%s`", pod, netns);
  return net_pod_check(fd, pod, net, host, ret, err);
}

int
sandbox_repair(const char *run_dir, const char *pod, const struct net_config *net,
               const struct net_host *host, tank_error **err)
{
  if (check_pod_name(pod, err) < 0)
    return tank_error_wrap(err, "repair sandbox");
  if (!sandbox_exists(run_dir, pod))
    return tank_error_set(err, ENOENT, "repair sandbox of pod `%s`: namespaces gone; recreate it",
                          pod);
  _cleanup_free_ char *netns = sandbox_ns_path(run_dir, pod, SANDBOX_NS_NET);
  _cleanup_free_ char *etc = sandbox_etc_dir(run_dir, pod);
  _cleanup_close_ int fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "repair sandbox of pod `%s`: open `%s`", pod, netns);
  if (net_pod_setup(fd, pod, net, host, err) < 0
      || net_write_etc_files(etc, pod, net, host, err) < 0)
    return tank_error_wrap(err, "repair sandbox");
  return 0;
}

static int
remove_file(const char *path, tank_error **err)
{
  if (unlink(path) < 0 && errno != ENOENT)
    return tank_error_set(err, errno, "remove `%s`", path);
  return 0;
}

static int
remove_dir(const char *path, bool tolerate_nonempty, tank_error **err)
{
  if (rmdir(path) < 0 && errno != ENOENT && !(tolerate_nonempty && errno == ENOTEMPTY))
    return tank_error_set(err, errno, "remove `%s`", path);
  return 0;
}

int
sandbox_destroy(const char *run_dir, const char *pod, tank_error **err)
{
  static const char *const etc_files[]
      = { "resolv.conf", "hosts", "hostname", ".resolv.conf.tmp", ".hosts.tmp", ".hostname.tmp" };
  int r = 0;

  if (check_pod_name(pod, err) < 0)
    return tank_error_wrap(err, "destroy sandbox");
  for (int i = 0; i < SANDBOX_NS_COUNT; i++) {
    _cleanup_free_ char *p = sandbox_ns_path(run_dir, pod, i);
    /* Detach: a container still holding the namespace keeps it alive, not the file. */
    while (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
      ; /* bound twice by a racing create: unstack */
    if (errno != EINVAL && errno != ENOENT && r == 0)
      r = tank_error_set(err, errno, "unmount `%s`", p);
    if (r == 0)
      r = remove_file(p, err);
  }
  _cleanup_free_ char *etc = sandbox_etc_dir(run_dir, pod);
  for (size_t i = 0; i < ARRAY_SIZE(etc_files) && r == 0; i++) {
    _cleanup_free_ char *p = xasprintf_path("%s/%s", etc, etc_files[i]);
    r = remove_file(p, err);
  }
  _cleanup_free_ char *nsdir = xasprintf_path("%s/pods/%s/ns", run_dir, pod);
  _cleanup_free_ char *dir = xasprintf_path("%s/pods/%s", run_dir, pod);
  if (r == 0)
    r = remove_dir(nsdir, false, err);
  if (r == 0)
    r = remove_dir(etc, false, err);
  /* The runtime's per-container dirs may still be there: theirs to remove. */
  if (r == 0)
    r = remove_dir(dir, /* tolerate_nonempty= */ true, err);
  if (r < 0)
    return tank_error_wrap(err, "destroy sandbox of pod `%s`", pod);
  return 0;
}

int
sandbox_create_pod(const struct sandbox_env *env, const struct spec_pod *pod, tank_error **err)
{
  struct net_config c;
  if (net_config_for_pod(pod, env->store, env->pools, env->n_pools, &c, err) < 0)
    return tank_error_wrap(err, "create sandbox");
  int r = sandbox_create(env->run_dir, pod->name, &c, &env->host, err);
  net_config_clear(&c);
  return r;
}

int
sandbox_check_pod(const struct sandbox_env *env, const struct spec_pod *pod, struct net_drift *ret,
                  tank_error **err)
{
  struct net_config c;
  if (net_config_for_pod(pod, env->store, env->pools, env->n_pools, &c, err) < 0)
    return tank_error_wrap(err, "check sandbox");
  int r = sandbox_check(env->run_dir, pod->name, &c, &env->host, ret, err);
  net_config_clear(&c);
  return r;
}

int
sandbox_repair_pod(const struct sandbox_env *env, const struct spec_pod *pod, tank_error **err)
{
  struct net_config c;
  if (net_config_for_pod(pod, env->store, env->pools, env->n_pools, &c, err) < 0)
    return tank_error_wrap(err, "repair sandbox");
  int r = sandbox_repair(env->run_dir, pod->name, &c, &env->host, err);
  net_config_clear(&c);
  return r;
}

int
sandbox_destroy_pod(const struct sandbox_env *env, const char *pod, bool release_addresses,
                    tank_error **err)
{
  int r = sandbox_destroy(env->run_dir, pod, err);
  if (r < 0)
    return r;
  if (release_addresses && env->store && ipam_release(env->store, pod, NULL, err) < 0)
    return tank_error_wrap(err, "destroy sandbox of pod `%s`", pod);
  return 0;
}
