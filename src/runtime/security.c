/* no_new_privs, seccomp (a filter compiled at build time) and capabilities for
 * the container process. */
#include "runtime/security.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp-filter.h"
#include "util/cleanup.h"

int
security_no_new_privs(tank_error **err)
{
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return tank_error_set(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  return 0;
}

/* The filter is compiled once, at build time, by seccomp-gen.c. Loaded without
 * no_new_privs when the config leaves it off: the child still holds
 * CAP_SYS_ADMIN here, as seccomp(2) then requires. */
int
security_seccomp_load(tank_error **err)
{
  struct sock_fprog prog = {
    .len = (unsigned short)ARRAY_SIZE(seccomp_default_filter),
    .filter = (struct sock_filter *)seccomp_default_filter,
  };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return tank_error_set(err, errno, "seccomp filter");
  return 0;
}

/* capset(2) directly: libcap would be one more shared library to load in
 * every shim, for one call. */
static int
set_caps(uint64_t mask, tank_error **err)
{
  struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
    { .effective = (uint32_t)mask, .permitted = (uint32_t)mask },
    { .effective = (uint32_t)(mask >> 32), .permitted = (uint32_t)(mask >> 32) },
  };
  if (syscall(SYS_capset, &head, data) < 0)
    return tank_error_set(err, errno, "capset");
  return 0;
}

int
security_switch_user(const struct user_ids *ids, uint64_t caps_mask, tank_error **err)
{
  /* EINVAL: past the last capability this kernel knows. */
  for (int c = 0; c < 64; c++)
    if (!(caps_mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
      if (errno == EINVAL)
        break;
      return tank_error_set(err, errno, "drop capability %d from the bounding set", c);
    }
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
