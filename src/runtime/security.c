/* no_new_privs, seccomp (libseccomp) and capabilities (libcap) for the container process. */
#include "runtime/security.h"

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/cleanup.h"

int
security_no_new_privs(tank_error **err)
{
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return tank_error_set(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  return 0;
}

/* Syscalls Docker's default profile refuses to a container without extra
 * capabilities: kernel modules and keyrings, mounts and namespaces, clocks,
 * accounting, swap, reboot, BPF, perf, handle-based opens, NUMA policy, the
 * new mount API and io_uring. */
static const char *const denied[] = {
  "acct",
  "add_key",
  "bpf",
  "clock_adjtime",
  "clock_settime",
  "create_module",
  "delete_module",
  "finit_module",
  "get_kernel_syms",
  "get_mempolicy",
  "init_module",
  "ioperm",
  "iopl",
  "kexec_file_load",
  "kexec_load",
  "keyctl",
  "lookup_dcookie",
  "mbind",
  "mount",
  "move_pages",
  "name_to_handle_at",
  "nfsservctl",
  "open_by_handle_at",
  "perf_event_open",
  "pivot_root",
  "query_module",
  "quotactl",
  "quotactl_fd",
  "reboot",
  "request_key",
  "set_mempolicy",
  "setns",
  "settimeofday",
  "stime",
  "swapon",
  "swapoff",
  "sysfs",
  "_sysctl",
  "umount",
  "umount2",
  "unshare",
  "uselib",
  "userfaultfd",
  "ustat",
  "vm86",
  "vm86old",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "open_tree",
  "move_mount",
  "mount_setattr",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "clock_adjtime64",
  "clock_settime64",
  "set_mempolicy_home_node",
};

int
security_seccomp_load(tank_error **err)
{
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == NULL)
    return tank_error_set(err, ENOMEM, "seccomp_init");
  int r;
  /* Filter the 32-bit entry points too, or they would be a way around the filter. */
  if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && r != -EEXIST)
    goto fail;
  if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && r != -EEXIST)
    goto fail;
  if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
    goto fail;
  for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
    int nr = seccomp_syscall_resolve_name(denied[i]);
    if (nr == __NR_SCMP_ERROR)
      continue;
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (r < 0 && r != -EDOM && r != -EEXIST)
      goto fail;
  }
  /* clone may not create namespaces; clone3's flags live in memory that a
   * filter cannot read, so it answers ENOSYS and libc falls back to clone. */
  static const unsigned long ns_flags[]
      = { CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
          CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
  for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (r < 0)
      goto fail;
  }
  int clone3_nr = seccomp_syscall_resolve_name("clone3");
  if (clone3_nr != __NR_SCMP_ERROR
      && (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3_nr, 0)) < 0 && r != -EDOM)
    goto fail;
  if ((r = seccomp_load(ctx)) < 0)
    goto fail;
  seccomp_release(ctx);
  return 0;
fail:
  seccomp_release(ctx);
  return tank_error_set(err, -r, "seccomp filter");
}

static int
set_caps(uint64_t mask, tank_error **err)
{
  cap_t caps = cap_init();
  if (caps == NULL)
    return tank_error_set(err, errno, "cap_init");
  cap_value_t list[64];
  int n = 0;
  for (int c = 0; c < 64 && c <= CAP_LAST_CAP; c++)
    if (mask & (1ULL << c))
      list[n++] = c;
  int r = 0;
  if (n > 0
      && (cap_set_flag(caps, CAP_EFFECTIVE, n, list, CAP_SET) < 0
          || cap_set_flag(caps, CAP_PERMITTED, n, list, CAP_SET) < 0))
    r = tank_error_set(err, errno, "cap_set_flag");
  if (r == 0 && cap_set_proc(caps) < 0)
    r = tank_error_set(err, errno, "cap_set_proc");
  cap_free(caps);
  return r;
}

int
security_switch_user(const struct user_ids *ids, uint64_t caps_mask, tank_error **err)
{
  int last = (int)cap_max_bits() - 1;
  for (int c = 0; c <= last; c++)
    if (c >= 64 || !(caps_mask & (1ULL << c)))
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        return tank_error_set(err, errno, "drop capability %d from the bounding set", c);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return tank_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
  if (setgroups(ids->n_groups, ids->groups) < 0)
    return tank_error_set(err, errno, "setgroups");
  if (setresgid(ids->gid, ids->gid, ids->gid) < 0)
    return tank_error_set(err, errno, "setgid %u", (unsigned)ids->gid);
  if (setresuid(ids->uid, ids->uid, ids->uid) < 0)
    return tank_error_set(err, errno, "setuid %u", (unsigned)ids->uid);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return tank_error_set(err, errno, "clear ambient capabilities");
  return set_caps(ids->uid == 0 ? caps_mask : 0, err);
}
