/* The last steps before exec: no_new_privs, the default seccomp filter (what
 * Docker's default profile blocks), the user switch and Docker's default
 * capability set. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "runtime/user.h"
#include "util/error.h"

/* Docker's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
 * SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. */
#define SECURITY_DEFAULT_CAPS 0x00000000a80425fbULL

int security_no_new_privs(tank_error **err);
int security_seccomp_load(tank_error **err);
/* Drops the bounding set to caps_mask, switches to ids, and leaves E=P=caps_mask
 * for uid 0 and empty effective/permitted sets for any other uid (as Docker does). */
int security_switch_user(const struct user_ids *ids, uint64_t caps_mask, tank_error **err);
