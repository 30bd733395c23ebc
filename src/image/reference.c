/* Image reference parsing and normalization (docker/podman rules). */
#include "image/reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN  128

static bool
is_lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )* */
static bool
valid_path_component(const char *s, size_t n)
{
  size_t i = 0;
  if (n == 0 || !is_lower_alnum(s[0]))
    return false;
  while (i < n) {
    while (i < n && is_lower_alnum(s[i]))
      i++;
    if (i == n)
      return true;
    size_t sep = i;
    if (s[i] == '.' || s[i] == '_') {
      i++;
      if (s[sep] == '_' && i < n && s[i] == '_')
        i++;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-')
        i++;
    } else {
      return false;
    }
    if (i == n || !is_lower_alnum(s[i]))
      return false;
  }
  return true;
}

/* domain := component ('.' component)* (':' port)?, component :=
 * [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? */
static bool
valid_domain(const char *s, size_t n)
{
  const char *colon = memchr(s, ':', n);
  size_t host_len = colon ? (size_t)(colon - s) : n;
  if (host_len == 0)
    return false;
  size_t start = 0;
  for (size_t i = 0; i <= host_len; i++) {
    if (i == host_len || s[i] == '.') {
      size_t len = i - start;
      if (len == 0 || s[start] == '-' || s[i - 1] == '-')
        return false;
      start = i + 1;
      continue;
    }
    if (!isalnum((unsigned char)s[i]) && s[i] != '-')
      return false;
  }
  if (colon) {
    size_t plen = n - host_len - 1;
    if (plen == 0 || plen > 5)
      return false;
    for (size_t i = host_len + 1; i < n; i++)
      if (!isdigit((unsigned char)s[i]))
        return false;
    if (atoi(colon + 1) > 65535 || atoi(colon + 1) == 0)
      return false;
  }
  return true;
}

static bool
valid_tag(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > TAG_MAX_LEN)
    return false;
  if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
      return false;
  return true;
}

static int
check_digest(const char *s, tank_error **err)
{
  const char *colon = strchr(s, ':');
  if (colon == NULL || colon == s)
    return tank_error_set(err, 0, "digest `%s` is not ALGORITHM:HEX", s);
  size_t alg_len = (size_t)(colon - s);
  const char *hex = colon + 1;
  size_t hex_len = strlen(hex);
  for (size_t i = 0; i < alg_len; i++)
    if (!is_lower_alnum(s[i]) && !(i > 0 && strchr("+._-", s[i])))
      return tank_error_set(err, 0, "digest `%s` has a bad algorithm name", s);
  for (size_t i = 0; i < hex_len; i++)
    if (!isxdigit((unsigned char)hex[i]) || isupper((unsigned char)hex[i]))
      return tank_error_set(err, 0, "digest `%s` must be lowercase hex after the algorithm", s);
  if (alg_len == 6 && memcmp(s, "sha256", 6) == 0 && hex_len != 64)
    return tank_error_set(err, 0, "digest `%s`: sha256 needs 64 hex digits, got %zu", s, hex_len);
  if (alg_len == 6 && memcmp(s, "sha512", 6) == 0 && hex_len != 128)
    return tank_error_set(err, 0, "digest `%s`: sha512 needs 128 hex digits, got %zu", s, hex_len);
  if (hex_len < 32)
    return tank_error_set(err, 0, "digest `%s` is too short", s);
  return 0;
}

static int
parse_registry(const char *s, struct image_ref *ref, tank_error **err)
{
  _cleanup_free_ char *copy = strdup(s);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "parse");

  char *at = strchr(copy, '@');
  if (at) {
    *at = '\0';
    if (check_digest(at + 1, err) < 0)
      return -EINVAL;
    ref->digest = strdup(at + 1);
  }

  /* A tag is after the last ':' that follows the last '/' (a ':' before it is a port). */
  char *slash = strrchr(copy, '/');
  char *colon = strrchr(slash ? slash : copy, ':');
  if (colon) {
    *colon = '\0';
    if (!valid_tag(colon + 1))
      return tank_error_set(err, 0,
                            "tag `%s` must be 1-128 characters of [A-Za-z0-9_.-], not starting "
                            "with `.` or `-`",
                            colon + 1);
    ref->tag = strdup(colon + 1);
  }

  char *name = copy;
  if (*name == '\0')
    return tank_error_set(err, 0, "image name is empty");
  if (strlen(name) > NAME_MAX_LEN)
    return tank_error_set(err, 0, "image name is longer than %d characters", NAME_MAX_LEN);

  /* The first component is a registry host when it looks like one. */
  char *first_slash = strchr(name, '/');
  const char *domain = "docker.io";
  char *path = name;
  if (first_slash) {
    size_t dlen = (size_t)(first_slash - name);
    bool looks_like_host = memchr(name, '.', dlen) || memchr(name, ':', dlen)
                           || (dlen == 9 && memcmp(name, "localhost", 9) == 0);
    for (size_t i = 0; i < dlen && !looks_like_host; i++)
      looks_like_host = isupper((unsigned char)name[i]);
    if (looks_like_host) {
      if (!valid_domain(name, dlen))
        return tank_error_set(err, 0, "registry `%.*s` is not a valid HOST[:PORT]", (int)dlen,
                              name);
      *first_slash = '\0';
      domain = name;
      path = first_slash + 1;
    }
  }

  /* Validate each path component. */
  for (char *p = path;;) {
    char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (!valid_path_component(p, n))
      return tank_error_set(err, 0,
                            "repository component `%.*s` must be lowercase letters and digits "
                            "separated by `.`, `_`, `__` or `-`",
                            (int)n, p);
    if (!end)
      break;
    p = end + 1;
  }

  if (strcmp(domain, "index.docker.io") == 0)
    domain = "docker.io";
  ref->domain = strdup(domain);
  if (strcmp(ref->domain, "docker.io") == 0 && strchr(path, '/') == NULL) {
    if (asprintf(&ref->path, "library/%s", path) < 0)
      ref->path = NULL;
  } else {
    ref->path = strdup(path);
  }
  if (ref->tag == NULL && ref->digest == NULL)
    ref->tag = strdup("latest");
  if (ref->domain == NULL || ref->path == NULL || (ref->tag == NULL && ref->digest == NULL))
    return tank_error_set(err, ENOMEM, "parse");
  return 0;
}

/* For oci:DIR[:TAG] and oci-archive:FILE[:TAG]: the tag is after the last ':'. */
static int
parse_local(const char *s, bool tagged, struct image_ref *ref, tank_error **err)
{
  _cleanup_free_ char *copy = strdup(s);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "parse");
  if (tagged) {
    char *colon = strrchr(copy, ':');
    if (colon) {
      *colon = '\0';
      if (!valid_tag(colon + 1))
        return tank_error_set(err, 0, "tag `%s` must be 1-128 characters of [A-Za-z0-9_.-]",
                              colon + 1);
      ref->local_tag = strdup(colon + 1);
    }
  }
  if (copy[0] != '/')
    return tank_error_set(err, 0, "path `%s` must be absolute", copy);
  ref->local_path = steal_pointer(&copy);
  return 0;
}

int
image_ref_parse(const char *s, struct image_ref *ret, tank_error **err)
{
  static const struct {
    const char *prefix;
    enum image_transport transport;
    bool tagged;
  } local[] = {
    { "oci:", IMAGE_TRANSPORT_OCI, true },
    { "oci-archive:", IMAGE_TRANSPORT_OCI_ARCHIVE, true },
    { "docker-archive:", IMAGE_TRANSPORT_DOCKER_ARCHIVE, false },
    { "rootfs:", IMAGE_TRANSPORT_ROOTFS, false },
  };
  struct image_ref ref = { 0 };
  int r;

  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
      return tank_error_set(err, 0, "image reference contains whitespace or a control character");

  for (size_t i = 0; i < ARRAY_SIZE(local); i++) {
    size_t n = strlen(local[i].prefix);
    if (strncmp(s, local[i].prefix, n) == 0) {
      ref.transport = local[i].transport;
      r = parse_local(s + n, local[i].tagged, &ref, err);
      goto done;
    }
  }
  if (strncmp(s, "docker://", 9) == 0)
    s += 9;
  ref.transport = IMAGE_TRANSPORT_REGISTRY;
  r = parse_registry(s, &ref, err);
done:
  if (r < 0) {
    image_ref_clear(&ref);
    return r;
  }
  *ret = ref;
  return 0;
}

void
image_ref_clear(struct image_ref *ref)
{
  free(ref->domain);
  free(ref->path);
  free(ref->tag);
  free(ref->digest);
  free(ref->local_path);
  free(ref->local_tag);
  *ref = (struct image_ref){ 0 };
}

char *
image_ref_format(const struct image_ref *ref)
{
  char *s = NULL;
  static const char *const prefix[] = {
    [IMAGE_TRANSPORT_OCI] = "oci:",
    [IMAGE_TRANSPORT_OCI_ARCHIVE] = "oci-archive:",
    [IMAGE_TRANSPORT_DOCKER_ARCHIVE] = "docker-archive:",
    [IMAGE_TRANSPORT_ROOTFS] = "rootfs:",
  };
  int r;
  if (ref->transport == IMAGE_TRANSPORT_REGISTRY)
    r = asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "",
                 ref->tag ? ref->tag : "", ref->digest ? "@" : "", ref->digest ? ref->digest : "");
  else
    r = asprintf(&s, "%s%s%s%s", prefix[ref->transport], ref->local_path, ref->local_tag ? ":" : "",
                 ref->local_tag ? ref->local_tag : "");
  return r < 0 ? NULL : s;
}
