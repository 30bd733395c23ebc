/* User and group resolution from an image's own /etc/passwd and /etc/group
 * text (never the host's NSS): "name", "uid", "name:group", "uid:gid". */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define USER_MAX_GROUPS 64
#define USER_MAX_FILE   (4 * 1024 * 1024)

struct user_ids {
  uid_t uid;
  gid_t gid;
  gid_t groups[USER_MAX_GROUPS]; /* supplementary groups */
  size_t n_groups;
  char home[256];
};

/* spec "" means root. passwd and group may be NULL (file missing): then only
 * numeric ids work. */
int user_resolve(const char *spec, const char *passwd, const char *group, struct user_ids *ret,
                 tank_error **err);
