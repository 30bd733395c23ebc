/* The on-disk blob and layer cache: directories, locks, verified blob writes. */
#include "image/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fileio.h"

struct blob_writer {
  struct image_store *s;
  char digest[DIGEST_STRING_LEN];
  int64_t expected;
  int fd;
  uint64_t written;
  hasher *h;
  blob_progress_fn progress;
  void *progress_userdata;
};

static int
open_subdir(int parent, const char *name, int *ret, tank_error **err)
{
  if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
    return tank_error_set(err, errno, "create `%s`", name);
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", name);
  *ret = fd;
  return 0;
}

int
image_store_open(const char *root, struct image_store **ret, tank_error **err)
{
  struct image_store *s = calloc(1, sizeof *s);
  if (s == NULL || (s->root = strdup(root)) == NULL) {
    free(s);
    return tank_error_set(err, ENOMEM, "open image store");
  }
  s->root_fd = s->blobs_fd = s->layers_fd = s->refs_fd = s->tmp_fd = s->locks_fd = -EBADF;
  _cleanup_image_store_ struct image_store *cleanup = s;
  if (mkdir(root, 0700) < 0 && errno != EEXIST)
    return tank_error_set(err, errno, "create image store `%s`", root);
  s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->root_fd < 0)
    return tank_error_set(err, errno, "open image store `%s`", root);
  _cleanup_close_ int blobs = -EBADF, layers = -EBADF;
  int r;
  if ((r = open_subdir(s->root_fd, "blobs", &blobs, err)) < 0
      || (r = open_subdir(blobs, "sha256", &s->blobs_fd, err)) < 0
      || (r = open_subdir(s->root_fd, "layers", &layers, err)) < 0
      || (r = open_subdir(layers, "sha256", &s->layers_fd, err)) < 0
      || (r = open_subdir(s->root_fd, "refs", &s->refs_fd, err)) < 0
      || (r = open_subdir(s->root_fd, "tmp", &s->tmp_fd, err)) < 0
      || (r = open_subdir(s->root_fd, "locks", &s->locks_fd, err)) < 0)
    return tank_error_wrap(err, "image store `%s`", root);
  /* The layer tree is traversable (not listable) by other users. */
  fchmod(layers, 0711);
  fchmod(s->layers_fd, 0711);
  *ret = steal_pointer(&cleanup);
  return 0;
}

struct image_store *
image_store_free(struct image_store *s)
{
  if (s == NULL)
    return NULL;
  int *fds[] = { &s->root_fd, &s->blobs_fd, &s->layers_fd, &s->refs_fd, &s->tmp_fd, &s->locks_fd };
  for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
    if (*fds[i] >= 0)
      close(*fds[i]);
  free(s->root);
  free(s);
  return NULL;
}

void
image_store_freep(struct image_store **s)
{
  image_store_free(*s);
}

bool
store_has_blob(struct image_store *s, const char *digest)
{
  return digest_is_sha256(digest) && faccessat(s->blobs_fd, digest_hex(digest), F_OK, 0) == 0;
}

int64_t
store_blob_size(struct image_store *s, const char *digest)
{
  struct stat st;
  if (!digest_is_sha256(digest) || fstatat(s->blobs_fd, digest_hex(digest), &st, 0) < 0)
    return -1;
  return st.st_size;
}

int
store_open_blob(struct image_store *s, const char *digest, int *ret_fd, tank_error **err)
{
  int r = digest_check(digest, err);
  if (r < 0)
    return r;
  int fd = openat(s->blobs_fd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return tank_error_set(err, errno, "blob %s", digest);
  *ret_fd = fd;
  return 0;
}

int
store_read_blob(struct image_store *s, const char *digest, size_t max_bytes, char **ret_buf,
                size_t *ret_len, tank_error **err)
{
  _cleanup_close_ int fd = -EBADF;
  int r = store_open_blob(s, digest, &fd, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if ((r = read_fd_limited(fd, max_bytes, &buf, &len, err)) < 0)
    return tank_error_wrap(err, "blob %s", digest);
  char got[DIGEST_STRING_LEN];
  digest_buffer(buf, len, got);
  if (strcmp(got, digest) != 0)
    return tank_error_set(err, EBADMSG, "cached blob %s is corrupt (hashes to %s)", digest, got);
  *ret_buf = steal_pointer(&buf);
  *ret_len = len;
  return 0;
}

int
store_put_blob(struct image_store *s, const char *digest, const void *buf, size_t len,
               tank_error **err)
{
  if (store_has_blob(s, digest))
    return 0;
  _cleanup_blob_writer_ blob_writer *w = NULL;
  int r;
  if ((r = blob_writer_new(s, digest, (int64_t)len, &w, err)) < 0
      || (r = blob_writer_write(w, buf, len, err)) < 0 || (r = blob_writer_commit(w, err)) < 0)
    return r;
  return 0;
}

static int
lock_at(int dirfd, const char *name, bool exclusive, int *ret_fd, tank_error **err)
{
  _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return tank_error_set(err, errno, "open lock `%s`", name);
  while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR)
      return tank_error_set(err, errno, "lock `%s`", name);
  *ret_fd = steal_fd(&fd);
  return 0;
}

int
store_lock(struct image_store *s, const char *kind, const char *digest, int *ret_fd,
           tank_error **err)
{
  int r = digest_check(digest, err);
  if (r < 0)
    return r;
  char name[128];
  snprintf(name, sizeof name, "%s-%s", kind, digest_hex(digest));
  return lock_at(s->locks_fd, name, true, ret_fd, err);
}

int
store_gc_lock(struct image_store *s, bool exclusive, int *ret_fd, tank_error **err)
{
  return lock_at(s->root_fd, "gc.lock", exclusive, ret_fd, err);
}

int
blob_writer_new(struct image_store *s, const char *digest, int64_t expected_size, blob_writer **ret,
                tank_error **err)
{
  int r = digest_check(digest, err);
  if (r < 0)
    return r;
  _cleanup_blob_writer_ blob_writer *w = calloc(1, sizeof *w);
  if (w == NULL)
    return tank_error_set(err, ENOMEM, "allocate blob writer");
  w->fd = -EBADF;
  w->s = s;
  w->expected = expected_size;
  strcpy(w->digest, digest);
  if ((r = hasher_new(&w->h, err)) < 0)
    return r;
  /* An unnamed file: a crash or kill leaves nothing behind. */
  w->fd = openat(s->blobs_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
  if (w->fd < 0)
    return tank_error_set(err, errno, "create temporary file for blob %s", digest);
  *ret = steal_pointer(&w);
  return 0;
}

void
blob_writer_set_progress(blob_writer *w, blob_progress_fn fn, void *userdata)
{
  w->progress = fn;
  w->progress_userdata = userdata;
}

int
blob_writer_write(blob_writer *w, const void *buf, size_t len, tank_error **err)
{
  if (w->expected >= 0 && w->written + len > (uint64_t)w->expected)
    return tank_error_set(err, EBADMSG, "blob %s: more data than the %lld bytes announced",
                          w->digest, (long long)w->expected);
  const char *p = buf;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(w->fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "write blob %s", w->digest);
    }
    p += n;
    left -= (size_t)n;
  }
  hasher_update(w->h, buf, len);
  w->written += len;
  if (w->progress && w->progress(w->progress_userdata, w->written) != 0)
    return tank_error_set(err, ECANCELED, "download of blob %s", w->digest);
  return 0;
}

int
blob_writer_rewind(blob_writer *w, tank_error **err)
{
  if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
    return tank_error_set(err, errno, "rewind blob %s", w->digest);
  hasher_reset(w->h);
  w->written = 0;
  return 0;
}

uint64_t
blob_writer_written(const blob_writer *w)
{
  return w->written;
}

const char *
blob_writer_digest(const blob_writer *w)
{
  return w->digest;
}

int
blob_writer_commit(blob_writer *w, tank_error **err)
{
  if (w->expected >= 0 && w->written != (uint64_t)w->expected)
    return tank_error_set(err, EBADMSG, "blob %s: got %llu bytes, expected %lld", w->digest,
                          (unsigned long long)w->written, (long long)w->expected);
  char got[DIGEST_STRING_LEN];
  hasher_final(w->h, got);
  if (strcmp(got, w->digest) != 0)
    return tank_error_set(err, EBADMSG, "digest mismatch: expected %s, got %s", w->digest, got);
  if (fdatasync(w->fd) < 0)
    return tank_error_set(err, errno, "sync blob %s", w->digest);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
  if (linkat(AT_FDCWD, proc, w->s->blobs_fd, digest_hex(w->digest), AT_SYMLINK_FOLLOW) < 0
      && errno != EEXIST)
    return tank_error_set(err, errno, "store blob %s", w->digest);
  return 0;
}

blob_writer *
blob_writer_free(blob_writer *w)
{
  if (w == NULL)
    return NULL;
  if (w->fd >= 0)
    close(w->fd);
  hasher_free(w->h);
  free(w);
  return NULL;
}

void
blob_writer_freep(blob_writer **w)
{
  blob_writer_free(*w);
}

bool
store_has_layer(struct image_store *s, const char *diff_id)
{
  struct stat st;
  return digest_is_sha256(diff_id)
         && fstatat(s->layers_fd, digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0
         && S_ISDIR(st.st_mode);
}

char *
store_layer_path(struct image_store *s, const char *diff_id)
{
  char *p = NULL;
  if (asprintf(&p, "%s/layers/sha256/%s", s->root, digest_hex(diff_id)) < 0)
    return NULL;
  return p;
}

int
store_layer_tmp(struct image_store *s, char **ret_name, int *ret_fd, tank_error **err)
{
  char name[64];
  for (int tries = 0; tries < 100; tries++) {
    unsigned long long rnd = 0;
    int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (ufd >= 0) {
      if (read(ufd, &rnd, sizeof rnd) < 0)
        rnd = 0;
      close(ufd);
    }
    snprintf(name, sizeof name, "layer-%d-%016llx", (int)getpid(), rnd ^ (unsigned)tries);
    if (mkdirat(s->tmp_fd, name, 0755) == 0) {
      int fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return tank_error_set(err, errno, "open temporary layer dir");
      char *n = strdup(name);
      if (n == NULL) {
        close(fd);
        return tank_error_set(err, ENOMEM, "temporary layer dir");
      }
      *ret_name = n;
      *ret_fd = fd;
      return 0;
    }
    if (errno != EEXIST)
      return tank_error_set(err, errno, "create temporary layer dir");
  }
  return tank_error_set(err, EEXIST, "create temporary layer dir");
}

int
store_layer_commit(struct image_store *s, const char *tmp_name, const char *diff_id,
                   tank_error **err)
{
  if (renameat(s->tmp_fd, tmp_name, s->layers_fd, digest_hex(diff_id)) < 0)
    return tank_error_set(err, errno, "move layer %s into place", diff_id);
  return 0;
}

void
store_tmp_remove(struct image_store *s, const char *tmp_name)
{
  remove_tree_at(s->tmp_fd, tmp_name);
}
