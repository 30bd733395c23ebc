/* Layer unpacking with libarchive: an outer reader undoes the compression (so
 * the uncompressed stream can be hashed for the diff-id), an inner reader parses
 * the tar, and each entry is created beneath the layer dir fd. */
#include "image/unpack.h"

#include "util/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "util/cleanup.h"

#define READ_BLOCK      (256u << 10)
#define MAX_PATH_BYTES  4096
#define MAX_XATTR_BYTES (64u << 10)
#define MAX_XATTRS      128
#define DEFAULT_MAX     (64ull << 30)
#define DEFAULT_ENTRIES (1u << 20)
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER   ".wh..wh..opq"
#define OVERLAY_OPAQUE  "trusted.overlay.opaque"

struct dir_time {
  char *path;
  struct timespec ts[2];
};

struct unpack {
  struct archive *outer, *inner;
  int root_fd;
  const struct unpack_options *opts;
  uint64_t max_bytes, max_file_bytes, max_entries;
  hasher *h;
  uint64_t total;
  bool over_limit;
  bool outer_eof;
  char *buf;
  struct dir_time *dirs;
  size_t n_dirs, cap_dirs;
};

static void
archive_freep(struct archive **a)
{
  if (*a)
    archive_read_free(*a);
}

static int
open_beneath(int root_fd, const char *path, int flags)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  long fd = syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof how);
  return (int)fd;
}

/* Lexical clean-up of an archive name: drops "", "." and leading "/"; ".."
 * pops a component and stops at the root (as RESOLVE_IN_ROOT would). */
static int
normalize_path(const char *in, char *out, size_t out_size)
{
  size_t len = 0;
  const char *p = in;
  while (*p) {
    while (*p == '/')
      p++;
    const char *s = p;
    while (*p && *p != '/')
      p++;
    size_t n = (size_t)(p - s);
    if (n == 0 || (n == 1 && s[0] == '.'))
      continue;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (len > 0 && out[len - 1] != '/')
        len--;
      if (len > 0)
        len--;
      continue;
    }
    if (len + n + 2 > out_size)
      return -ENAMETOOLONG;
    if (len > 0)
      out[len++] = '/';
    memcpy(out + len, s, n);
    len += n;
  }
  out[len] = '\0';
  return 0;
}

/* Splits "a/b/c" into parent "a/b" (in place) and returns "c". */
static char *
split_last(char *path)
{
  char *slash = strrchr(path, '/');
  if (slash == NULL) {
    memmove(path + 1, path, strlen(path) + 1);
    path[0] = '\0';
    return path + 1;
  }
  *slash = '\0';
  return slash + 1;
}

static int
open_resolved(int root_fd, const char *path)
{
  struct open_how how = {
    .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
  };
  return (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof how);
}

/* Opens directory `path` beneath the root, creating missing components 0755.
 * Symlinks on the way are followed by hand, staying in the root (an absolute
 * target restarts at the root, ".." stops there), so a missing directory is
 * created where the link points inside the layer, as umoci's securejoin does. */
static int
open_dir_p(struct unpack *u, const char *path, int *ret_fd, tank_error **err)
{
  int fd = open_beneath(u->root_fd, path, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    *ret_fd = fd;
    return 0;
  }
  if (errno != ENOENT)
    return tank_error_set(err, errno, "open directory `%s`", path);
  char resolved[MAX_PATH_BYTES] = "";
  char todo[2 * MAX_PATH_BYTES + 2];
  size_t rlen = 0, pos = 0;
  unsigned links = 0;
  snprintf(todo, sizeof todo, "%s", path);
  while (todo[pos]) {
    while (todo[pos] == '/')
      pos++;
    if (todo[pos] == '\0')
      break;
    size_t start = pos;
    while (todo[pos] && todo[pos] != '/')
      pos++;
    size_t n = pos - start;
    char comp[NAME_MAX + 1];
    if (n > NAME_MAX)
      return tank_error_set(err, ENAMETOOLONG, "directory `%.100s…`", path);
    memcpy(comp, todo + start, n);
    comp[n] = '\0';
    if (strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      while (rlen > 0 && resolved[rlen - 1] != '/')
        rlen--;
      if (rlen > 0)
        rlen--;
      resolved[rlen] = '\0';
      continue;
    }
    _cleanup_close_ int dfd = open_resolved(u->root_fd, resolved);
    if (dfd < 0)
      return tank_error_set(err, errno, "open directory `%s`", resolved);
    struct stat st;
    if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT)
        return tank_error_set(err, errno, "stat `%s` of `%s`", comp, path);
      if (mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST)
        return tank_error_set(err, errno, "create directory `%s` of `%s`", comp, path);
    } else if (S_ISLNK(st.st_mode)) {
      if (++links > 40)
        return tank_error_set(err, ELOOP, "open directory `%s`", path);
      char target[MAX_PATH_BYTES];
      ssize_t tl = readlinkat(dfd, comp, target, sizeof target - 1);
      if (tl <= 0)
        return tank_error_set(err, tl < 0 ? errno : EINVAL, "read symlink `%s`", comp);
      target[tl] = '\0';
      char rest[2 * MAX_PATH_BYTES + 2];
      int w = snprintf(rest, sizeof rest, "%s/%s", target, todo + pos);
      if (w < 0 || (size_t)w >= sizeof todo)
        return tank_error_set(err, ENAMETOOLONG, "directory `%.100s…`", path);
      memcpy(todo, rest, (size_t)w + 1);
      pos = 0;
      if (target[0] == '/') {
        rlen = 0;
        resolved[0] = '\0';
      }
      continue;
    } else if (!S_ISDIR(st.st_mode))
      return tank_error_set(err, ENOTDIR, "open directory `%s`", path);
    if (rlen + n + 2 > sizeof resolved)
      return tank_error_set(err, ENAMETOOLONG, "directory `%.100s…`", path);
    if (rlen > 0)
      resolved[rlen++] = '/';
    memcpy(resolved + rlen, comp, n + 1);
    rlen += n;
  }
  fd = open_resolved(u->root_fd, resolved);
  if (fd < 0)
    return tank_error_set(err, errno, "open directory `%s`", path);
  *ret_fd = fd;
  return 0;
}

static bool
xattr_allowed(const char *name)
{
  if (strncmp(name, "trusted.overlay.", 16) == 0)
    return false; /* a layer must not forge overlay metadata */
  return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0
         || strcmp(name, "security.capability") == 0;
}

static int
apply_xattrs(struct unpack *u, struct archive_entry *e, int fd, const char *path, tank_error **err)
{
  int n = archive_entry_xattr_reset(e);
  if (n > MAX_XATTRS)
    return tank_error_set(err, E2BIG, "`%s` has %d xattrs, over the limit of %d", path, n,
                          MAX_XATTRS);
  const char *name;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (!xattr_allowed(name))
      continue;
    if (size > MAX_XATTR_BYTES)
      return tank_error_set(err, E2BIG, "`%s`: xattr %s is %zu bytes", path, name, size);
    if (fsetxattr(fd, name, value, size, 0) < 0) {
      if (u->opts->rootless && (errno == EPERM || errno == ENOTSUP))
        continue;
      return tank_error_set(err, errno, "`%s`: set xattr %s", path, name);
    }
  }
  return 0;
}

static void
entry_times(struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime(e);
  ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (ts[1].tv_nsec < 0 || ts[1].tv_nsec >= 1000000000)
    ts[1].tv_nsec = 0;
  ts[0] = ts[1];
}

static int
chown_fd(struct unpack *u, int fd, struct archive_entry *e, const char *path, tank_error **err)
{
  la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX)
    return tank_error_set(err, ERANGE, "`%s`: owner %lld:%lld out of range", path, (long long)uid,
                          (long long)gid);
  if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0 && !(u->opts->rootless && errno == EPERM))
    return tank_error_set(err, errno, "`%s`: chown %lld:%lld", path, (long long)uid,
                          (long long)gid);
  return 0;
}

/* Owner, mode, xattrs in that order: chown clears setuid bits and file caps. */
static int
apply_meta_fd(struct unpack *u, int fd, struct archive_entry *e, const char *path, tank_error **err)
{
  int r;
  if ((r = chown_fd(u, fd, e, path, err)) < 0)
    return r;
  if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
    return tank_error_set(err, errno, "`%s`: chmod", path);
  return apply_xattrs(u, e, fd, path, err);
}

static int
write_file(struct unpack *u, int pfd, const char *base, struct archive_entry *e, const char *path,
           tank_error **err)
{
  if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > u->max_file_bytes)
    return tank_error_set(err, EFBIG, "`%s` claims %lld bytes, over the limit of %llu", path,
                          (long long)archive_entry_size(e), (unsigned long long)u->max_file_bytes);
  _cleanup_close_ int fd
      = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return tank_error_set(err, errno, "create `%s`", path);
  for (;;) {
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(u->inner, &buf, &size, &offset);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return tank_error_set(err, u->over_limit ? EFBIG : EIO, "read data of `%s`: %s", path,
                            archive_error_string(u->inner));
    if (offset < 0 || (uint64_t)offset + size > u->max_file_bytes)
      return tank_error_set(err, EFBIG, "`%s`: data beyond the file size limit", path);
    const char *p = buf;
    while (size > 0) {
      ssize_t w = pwrite(fd, p, size, offset);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return tank_error_set(err, errno, "write `%s`", path);
      }
      p += w;
      offset += w;
      size -= (size_t)w;
    }
  }
  if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
    return tank_error_set(err, errno, "set size of `%s`", path);
  int r = apply_meta_fd(u, fd, e, path, err);
  if (r < 0)
    return r;
  struct timespec ts[2];
  entry_times(e, ts);
  if (futimens(fd, ts) < 0)
    return tank_error_set(err, errno, "`%s`: set times", path);
  return 0;
}

static int
make_dir(struct unpack *u, int pfd, const char *base, struct archive_entry *e, const char *path,
         tank_error **err)
{
  _cleanup_close_ int fd = -EBADF;
  if (*path == '\0')
    fd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
  else {
    if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
      return tank_error_set(err, errno, "create directory `%s`", path);
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0)
    return tank_error_set(err, errno, "open directory `%s`", path);
  int r = apply_meta_fd(u, fd, e, path, err);
  if (r < 0)
    return r;
  /* Children change a directory's mtime: set it once everything is written. */
  if (u->n_dirs == u->cap_dirs) {
    size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
    struct dir_time *d = realloc(u->dirs, cap * sizeof *d);
    if (d == NULL)
      return tank_error_set(err, ENOMEM, "remember directory times");
    u->dirs = d;
    u->cap_dirs = cap;
  }
  char *copy = strdup(path);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "remember directory times");
  u->dirs[u->n_dirs].path = copy;
  entry_times(e, u->dirs[u->n_dirs].ts);
  u->n_dirs++;
  return 0;
}

static int
meta_at(struct unpack *u, int pfd, const char *base, struct archive_entry *e, bool chmod_too,
        const char *path, tank_error **err)
{
  la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX)
    return tank_error_set(err, ERANGE, "`%s`: owner out of range", path);
  if (fchownat(pfd, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0
      && !(u->opts->rootless && errno == EPERM))
    return tank_error_set(err, errno, "`%s`: chown", path);
  /* A node we just made (never a symlink here), so fchmodat does not follow out. */
  if (chmod_too && fchmodat(pfd, base, archive_entry_perm(e) & 07777, 0) < 0)
    return tank_error_set(err, errno, "`%s`: chmod", path);
  struct timespec ts[2];
  entry_times(e, ts);
  if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return tank_error_set(err, errno, "`%s`: set times", path);
  return 0;
}

static int
make_hardlink(struct unpack *u, int pfd, const char *base, const char *target, const char *path,
              tank_error **err)
{
  char tpath[MAX_PATH_BYTES];
  if (normalize_path(target, tpath, sizeof tpath) < 0 || tpath[0] == '\0')
    return tank_error_set(err, EINVAL, "`%s`: bad hard link target `%.200s`", path, target);
  if (strcmp(tpath, path) == 0)
    return 0;
  char *tbase = split_last(tpath);
  _cleanup_close_ int tpfd = open_beneath(u->root_fd, tpath, O_PATH | O_DIRECTORY);
  if (tpfd < 0)
    return tank_error_set(err, errno, "`%s`: hard link target `%.200s`", path, target);
  if (linkat(tpfd, tbase, pfd, base, 0) < 0)
    return tank_error_set(err, errno, "`%s`: hard link to `%.200s`", path, target);
  return 0;
}

static int
whiteout(struct unpack *u, int pfd, const char *base, const char *path, tank_error **err)
{
  if (strcmp(base, OPAQUE_MARKER) == 0) {
    if (fsetxattr(pfd, OVERLAY_OPAQUE, "y", 1, 0) < 0 && !(u->opts->rootless && errno == EPERM))
      return tank_error_set(err, errno, "`%s`: mark directory opaque", path);
    return 0;
  }
  if (strncmp(base, WHITEOUT_PREFIX WHITEOUT_PREFIX, 8) == 0)
    return 0; /* other AUFS metadata: nothing for overlayfs */
  const char *victim = base + strlen(WHITEOUT_PREFIX);
  if (*victim == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
    return tank_error_set(err, EINVAL, "whiteout `%s` names no file", path);
  int r = remove_tree_at(pfd, victim);
  if (r < 0)
    return tank_error_set(err, -r, "`%s`: remove whited-out `%s`", path, victim);
  if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0
      && !(u->opts->rootless && errno == EPERM))
    return tank_error_set(err, errno, "`%s`: create whiteout device", path);
  return 0;
}

static int
unpack_entry(struct unpack *u, struct archive_entry *e, tank_error **err)
{
  const char *name = archive_entry_pathname(e);
  if (name == NULL)
    return tank_error_set(err, EINVAL, "entry without a usable name");
  char path[MAX_PATH_BYTES];
  if (normalize_path(name, path, sizeof path) < 0)
    return tank_error_set(err, ENAMETOOLONG, "entry name `%.100s…` is too long", name);
  mode_t type = archive_entry_filetype(e);
  const char *hardlink = archive_entry_hardlink(e);

  if (path[0] == '\0') { /* the root itself ("./") */
    if (type != AE_IFDIR || hardlink)
      return 0;
    return make_dir(u, -1, "", e, "", err);
  }

  char parent[MAX_PATH_BYTES];
  strcpy(parent, path);
  char *base = split_last(parent);
  _cleanup_close_ int pfd = -EBADF;
  int r = open_dir_p(u, parent, &pfd, err);
  if (r < 0)
    return tank_error_wrap(err, "`%s`", path);

  if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
    return whiteout(u, pfd, base, path, err);

  if (hardlink) {
    char self[MAX_PATH_BYTES];
    if (normalize_path(hardlink, self, sizeof self) == 0 && strcmp(self, path) == 0)
      return 0; /* a link to itself: keep the file */
  }
  struct stat st;
  bool exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !(type == AE_IFDIR && !hardlink && S_ISDIR(st.st_mode))) {
    /* Replace what is there; never write through an existing symlink. */
    if ((r = remove_tree_at(pfd, base)) < 0)
      return tank_error_set(err, -r, "replace `%s`", path);
  }

  if (hardlink)
    return make_hardlink(u, pfd, base, hardlink, path, err);
  switch (type) {
    case AE_IFREG:
      return write_file(u, pfd, base, e, path, err);
    case AE_IFDIR:
      return make_dir(u, pfd, base, e, path, err);
    case AE_IFLNK: {
      const char *target = archive_entry_symlink(e);
      if (target == NULL || strlen(target) >= MAX_PATH_BYTES)
        return tank_error_set(err, EINVAL, "`%s`: bad symlink target", path);
      if (symlinkat(target, pfd, base) < 0)
        return tank_error_set(err, errno, "`%s`: create symlink", path);
      return meta_at(u, pfd, base, e, false, path, err);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
      if (mknodat(pfd, base, type | (archive_entry_perm(e) & 0777), dev) < 0) {
        if (u->opts->rootless && errno == EPERM)
          return 0;
        return tank_error_set(err, errno, "`%s`: create device node", path);
      }
      return meta_at(u, pfd, base, e, true, path, err);
    }
    default:
      return 0; /* sockets and unknown types: nothing overlayfs needs */
  }
}

/* Feeds the tar reader from the decompressor, hashing the uncompressed stream. */
static la_ssize_t
inner_read(struct archive *a, void *data, const void **ret_buf)
{
  struct unpack *u = data;
  if (u->outer_eof)
    return 0;
  la_ssize_t n = archive_read_data(u->outer, u->buf, READ_BLOCK);
  if (n < 0) {
    archive_set_error(a, EIO, "decompress: %s", archive_error_string(u->outer));
    return -1;
  }
  if (n == 0)
    u->outer_eof = true;
  u->total += (uint64_t)n;
  if (u->total > u->max_bytes) {
    u->over_limit = true;
    archive_set_error(a, EFBIG, "uncompressed layer exceeds %llu bytes",
                      (unsigned long long)u->max_bytes);
    return -1;
  }
  hasher_update(u->h, u->buf, (size_t)n);
  *ret_buf = u->buf;
  return n;
}

static int
finish_dirs(struct unpack *u, tank_error **err)
{
  for (size_t i = u->n_dirs; i-- > 0;) {
    _cleanup_close_ int fd = open_beneath(u->root_fd, u->dirs[i].path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
      continue; /* replaced or whited out later in the stream */
    if (futimens(fd, u->dirs[i].ts) < 0)
      return tank_error_set(err, errno, "`%s`: set times", u->dirs[i].path);
  }
  return 0;
}

static int
run(struct unpack *u, int blob_fd, tank_error **err)
{
  if (archive_read_support_filter_all(u->outer) != ARCHIVE_OK
      || archive_read_support_format_raw(u->outer) != ARCHIVE_OK
      || archive_read_open_fd(u->outer, blob_fd, READ_BLOCK) != ARCHIVE_OK)
    return tank_error_set(err, EIO, "open layer stream: %s", archive_error_string(u->outer));
  struct archive_entry *raw;
  if (archive_read_next_header(u->outer, &raw) != ARCHIVE_OK)
    return tank_error_set(err, EIO, "read layer stream: %s", archive_error_string(u->outer));
  if (archive_read_support_format_tar(u->inner) != ARCHIVE_OK
      || archive_read_open(u->inner, u, NULL, inner_read, NULL) != ARCHIVE_OK)
    return tank_error_set(err, EIO, "layer is not a tar archive: %s",
                          archive_error_string(u->inner));
  uint64_t entries = 0;
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(u->inner, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return tank_error_set(err, u->over_limit ? EFBIG : EIO, "read tar header: %s",
                            archive_error_string(u->inner));
    if (++entries > u->max_entries)
      return tank_error_set(err, E2BIG, "layer has more than %llu entries",
                            (unsigned long long)u->max_entries);
    if ((r = unpack_entry(u, e, err)) < 0)
      return r;
  }
  /* Hash what follows the tar end marker too: the diff-id covers the whole stream. */
  const void *b;
  while (inner_read(u->inner, u, &b) > 0)
    ;
  if (u->over_limit)
    return tank_error_set(err, EFBIG, "uncompressed layer exceeds %llu bytes",
                          (unsigned long long)u->max_bytes);
  if (!u->outer_eof)
    return tank_error_set(err, EIO, "read layer stream: %s", archive_error_string(u->outer));
  return finish_dirs(u, err);
}

int
layer_unpack(int blob_fd, int root_fd, const struct unpack_options *opts,
             char ret_diff_id[DIGEST_STRING_LEN], tank_error **err)
{
  static const struct unpack_options defaults = { 0 };
  struct unpack u = { .root_fd = root_fd, .opts = opts ? opts : &defaults };
  u.max_bytes = u.opts->max_bytes ? u.opts->max_bytes : DEFAULT_MAX;
  u.max_file_bytes = u.opts->max_file_bytes ? u.opts->max_file_bytes : DEFAULT_MAX;
  u.max_entries = u.opts->max_entries ? u.opts->max_entries : DEFAULT_ENTRIES;
  _cleanup_free_ char *buf = malloc(READ_BLOCK);
  _cleanup_hasher_ hasher *h = NULL;
  int r = hasher_new(&h, err);
  if (r < 0)
    return r;
  if (buf == NULL)
    return tank_error_set(err, ENOMEM, "allocate read buffer");
  u.buf = buf;
  u.h = h;
  __attribute__((cleanup(archive_freep))) struct archive *outer = archive_read_new();
  __attribute__((cleanup(archive_freep))) struct archive *inner = archive_read_new();
  if (outer == NULL || inner == NULL)
    return tank_error_set(err, ENOMEM, "allocate archive reader");
  u.outer = outer;
  u.inner = inner;
  r = run(&u, blob_fd, err);
  for (size_t i = 0; i < u.n_dirs; i++)
    free(u.dirs[i].path);
  free(u.dirs);
  if (r < 0)
    return r;
  char d[DIGEST_STRING_LEN];
  hasher_final(h, d);
  memcpy(ret_diff_id, d, DIGEST_STRING_LEN);
  return 0;
}
