/* Parsing of passwd(5) and group(5) text for user_resolve. */
#include "runtime/user.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* Splits one line into at most max ':'-separated fields, in place. */
static size_t
split_fields(char *line, char **fields, size_t max)
{
  size_t n = 0;
  char *p = line;
  while (n < max) {
    fields[n++] = p;
    char *colon = strchr(p, ':');
    if (colon == NULL)
      break;
    *colon = '\0';
    p = colon + 1;
  }
  return n;
}

static bool
parse_id(const char *s, unsigned long *ret)
{
  if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
    return false;
  unsigned long v = strtoul(s, NULL, 10);
  if (v > 0xfffffffeUL)
    return false;
  *ret = v;
  return true;
}

/* Calls fn for each well-formed line (fields split) of a copy of text. */
typedef bool (*line_fn)(char **fields, size_t n, void *data);

static int
for_each_line(const char *text, size_t min_fields, line_fn fn, void *data)
{
  if (text == NULL)
    return 0;
  _cleanup_free_ char *copy = strdup(text);
  if (copy == NULL)
    return -ENOMEM;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *fields[8];
    if (line[0] == '#')
      continue;
    size_t n = split_fields(line, fields, 8);
    if (n >= min_fields && fn(fields, n, data))
      return 1;
  }
  return 0;
}

struct pw_query {
  const char *name; /* or NULL */
  unsigned long uid;
  bool found;
  unsigned long found_uid, found_gid;
  char found_name[256];
  char home[256];
};

static bool
pw_match(char **f, size_t n, void *data)
{
  struct pw_query *q = data;
  unsigned long uid, gid;
  if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid))
    return false;
  if (q->name ? strcmp(f[0], q->name) != 0 : uid != q->uid)
    return false;
  q->found = true;
  q->found_uid = uid;
  q->found_gid = gid;
  snprintf(q->found_name, sizeof q->found_name, "%s", f[0]);
  snprintf(q->home, sizeof q->home, "%s", n > 5 && f[5][0] ? f[5] : "/");
  return true;
}

struct gr_query {
  const char *name;
  bool found;
  unsigned long gid;
};

static bool
gr_match(char **f, size_t n, void *data)
{
  struct gr_query *q = data;
  unsigned long gid;
  if (!parse_id(f[2], &gid) || strcmp(f[0], q->name) != 0)
    return false;
  q->found = true;
  q->gid = gid;
  return true;
}

struct gr_members {
  const char *user;
  struct user_ids *ids;
};

static bool
gr_member(char **f, size_t n, void *data)
{
  struct gr_members *q = data;
  unsigned long gid;
  if (n < 4 || !parse_id(f[2], &gid))
    return false;
  char *save = NULL;
  for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
    if (strcmp(m, q->user) != 0)
      continue;
    for (size_t i = 0; i < q->ids->n_groups; i++)
      if (q->ids->groups[i] == gid)
        return false;
    if (q->ids->n_groups < USER_MAX_GROUPS)
      q->ids->groups[q->ids->n_groups++] = (gid_t)gid;
  }
  return false;
}

int
user_resolve(const char *spec, const char *passwd, const char *group, struct user_ids *ret,
             tank_error **err)
{
  struct user_ids ids = { 0 };
  snprintf(ids.home, sizeof ids.home, "/");
  if (spec == NULL || *spec == '\0')
    spec = "0";
  _cleanup_free_ char *copy = strdup(spec);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "user");
  char *grp = strchr(copy, ':');
  if (grp)
    *grp++ = '\0';
  if (*copy == '\0')
    return tank_error_set(err, 0, "user `%s`: empty user name", spec);

  struct pw_query pq = { 0 };
  unsigned long num;
  bool numeric = parse_id(copy, &num);
  if (numeric)
    pq.uid = num;
  else
    pq.name = copy;
  if (for_each_line(passwd, 4, pw_match, &pq) < 0)
    return tank_error_set(err, ENOMEM, "user");
  if (!pq.found && !numeric)
    return tank_error_set(err, ENOENT, "user `%s`: no such user in the image's /etc/passwd", copy);
  ids.uid = (uid_t)(pq.found ? pq.found_uid : num);
  ids.gid = (gid_t)(pq.found ? pq.found_gid : 0);
  if (pq.found)
    snprintf(ids.home, sizeof ids.home, "%s", pq.home);

  if (grp) {
    if (*grp == '\0')
      return tank_error_set(err, 0, "user `%s`: empty group", spec);
    if (parse_id(grp, &num)) {
      ids.gid = (gid_t)num;
    } else {
      struct gr_query gq = { .name = grp };
      if (for_each_line(group, 3, gr_match, &gq) < 0)
        return tank_error_set(err, ENOMEM, "user");
      if (!gq.found)
        return tank_error_set(err, ENOENT, "group `%s`: no such group in the image's /etc/group",
                              grp);
      ids.gid = (gid_t)gq.gid;
    }
  }
  /* Supplementary groups: those that list the user by name, as initgroups does. */
  if (pq.found) {
    struct gr_members gm = { .user = pq.found_name, .ids = &ids };
    if (for_each_line(group, 4, gr_member, &gm) < 0)
      return tank_error_set(err, ENOMEM, "user");
  }
  *ret = ids;
  return 0;
}
