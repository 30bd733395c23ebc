/* Layer unpacking into a temporary dir: file types, metadata, whiteouts, the
 * diff-id over the uncompressed stream, limits, and containment of escapes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "image/unpack.h"
#include "util/fileio.h"
#include "util/cleanup.h"

struct entry {
  const char *name;
  mode_t type;
  mode_t perm;
  const char *data; /* file content, or link target */
  bool hardlink;
};

/* Writes a tar (optionally gzip) of entries into a memfd; returns it at offset 0.
 * raw_digest gets the sha256 of the uncompressed tar. */
static int
make_layer(const struct entry *es, size_t n, bool gzip, char raw_digest[DIGEST_STRING_LEN])
{
  size_t cap = 1 << 20, used = 0;
  char *buf = malloc(cap);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_none(a);
  archive_write_set_bytes_in_last_block(a, 1);
  assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, es[i].name);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (es[i].hardlink) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, es[i].data);
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, es[i].type);
      archive_entry_set_perm(e, es[i].perm);
      if (es[i].type == AE_IFLNK)
        archive_entry_set_symlink(e, es[i].data);
      if (es[i].type == AE_IFREG)
        archive_entry_set_size(e, es[i].data ? (la_int64_t)strlen(es[i].data) : 0);
    }
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (es[i].type == AE_IFREG && es[i].data && !es[i].hardlink)
      archive_write_data(a, es[i].data, strlen(es[i].data));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  digest_buffer(buf, used, raw_digest);
  int fd = memfd_create("layer", MFD_CLOEXEC);
  assert_true(fd >= 0);
  if (gzip) {
    struct archive *w = archive_write_new();
    archive_write_add_filter_gzip(w);
    archive_write_set_format_raw(w);
    size_t zcap = cap, zused = 0;
    char *z = malloc(zcap);
    archive_write_open_memory(w, z, zcap, &zused);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(w, e);
    archive_write_data(w, buf, used);
    archive_entry_free(e);
    archive_write_close(w);
    archive_write_free(w);
    assert_int_equal(write(fd, z, zused), (ssize_t)zused);
    free(z);
  } else
    assert_int_equal(write(fd, buf, used), (ssize_t)used);
  free(buf);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

struct tmp {
  char base[64];
  int root_fd;
  char root[96], outside[96];
};

static int
setup_tmp(void **state)
{
  struct tmp *t = calloc(1, sizeof *t);
  strcpy(t->base, "/tmp/tkim-unit-XXXXXX");
  assert_non_null(mkdtemp(t->base));
  snprintf(t->root, sizeof t->root, "%s/root", t->base);
  snprintf(t->outside, sizeof t->outside, "%s/outside", t->base);
  mkdir(t->root, 0755);
  mkdir(t->outside, 0755);
  t->root_fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  *state = t;
  return 0;
}

static int
teardown_tmp(void **state)
{
  struct tmp *t = *state;
  close(t->root_fd);
  int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  remove_tree_at(fd, t->base + 5);
  close(fd);
  free(t);
  return 0;
}

static const struct unpack_options rootless = { .rootless = true };

static void
test_basic_types(void **state)
{
  struct tmp *t = *state;
  const struct entry es[] = {
    { "./", AE_IFDIR, 0755, NULL, false },
    { "etc/", AE_IFDIR, 0750, NULL, false },
    { "etc/passwd", AE_IFREG, 0644, "root:x:0:0::/:/bin/sh\n", false },
    { "bin/tool", AE_IFREG, 04755, "#!x", false },
    { "bin/link", AE_IFLNK, 0777, "tool", false },
    { "bin/hard", AE_IFREG, 0, "bin/tool", true },
  };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, ARRAY_SIZE(es), false, want);
  tank_error *err = NULL;
  int r = layer_unpack(fd, t->root_fd, &rootless, got, &err);
  if (r < 0)
    fail_msg("%s", err->msg);
  close(fd);
  assert_string_equal(got, want);
  struct stat st;
  assert_int_equal(fstatat(t->root_fd, "etc", &st, 0), 0);
  assert_int_equal(st.st_mode & 07777, 0750);
  assert_int_equal(st.st_mtime, 1700000000);
  assert_int_equal(fstatat(t->root_fd, "bin/tool", &st, 0), 0);
  assert_int_equal(st.st_mode & 07777, 04755);
  assert_int_equal(st.st_nlink, 2);
  char target[64] = "";
  assert_int_equal(readlinkat(t->root_fd, "bin/link", target, sizeof target), 4);
  assert_memory_equal(target, "tool", 4);
  assert_int_equal(fstatat(t->root_fd, "etc/passwd", &st, 0), 0);
  assert_int_equal(st.st_size, 22);
}

static void
test_gzip_diff_id(void **state)
{
  struct tmp *t = *state;
  const struct entry es[] = { { "a", AE_IFREG, 0600, "hello", false } };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, 1, true, want);
  tank_error *err = NULL;
  assert_int_equal(layer_unpack(fd, t->root_fd, &rootless, got, &err), 0);
  close(fd);
  /* The diff-id is the hash of the uncompressed tar, not of the gzip blob. */
  assert_string_equal(got, want);
}

static void
test_escapes_contained(void **state)
{
  struct tmp *t = *state;
  char abs[160], dotdot[160];
  snprintf(abs, sizeof abs, "%s/abs", t->outside);
  snprintf(dotdot, sizeof dotdot, "../../../../../../..%s/dotdot", t->outside);
  const struct entry es[] = {
    { abs, AE_IFREG, 0644, "x", false },
    { dotdot, AE_IFREG, 0644, "x", false },
    { "up", AE_IFLNK, 0777, "../outside", false },
    { "up/through", AE_IFREG, 0644, "x", false },
    { "victim", AE_IFLNK, 0777, t->outside, false },
    { "victim", AE_IFREG, 0644, "replaced", false },
  };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, ARRAY_SIZE(es), false, want);
  tank_error *err = NULL;
  int r = layer_unpack(fd, t->root_fd, &rootless, got, &err);
  close(fd);
  if (r < 0)
    fail_msg("%s", err->msg);
  int out = open(t->outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  assert_true(fstatat(out, "abs", &st, 0) < 0);
  assert_true(fstatat(out, "dotdot", &st, 0) < 0);
  assert_true(fstatat(out, "through", &st, 0) < 0);
  close(out);
  /* "up" → ../outside resolves to <root>/outside inside the layer. */
  assert_int_equal(fstatat(t->root_fd, "outside/through", &st, 0), 0);
  assert_int_equal(fstatat(t->root_fd, abs + 1, &st, 0), 0);
  assert_int_equal(fstatat(t->root_fd, "victim", &st, AT_SYMLINK_NOFOLLOW), 0);
  assert_true(S_ISREG(st.st_mode));
}

static void
test_hardlink_out_refused(void **state)
{
  struct tmp *t = *state;
  const struct entry es[] = { { "h", AE_IFREG, 0, "../../../../../etc/passwd", true } };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, 1, false, want);
  tank_error *err = NULL;
  assert_true(layer_unpack(fd, t->root_fd, &rootless, got, &err) < 0);
  close(fd);
  assert_non_null(strstr(err->msg, "hard link target"));
  tank_error_free(err);
}

static void
test_whiteouts(void **state)
{
  struct tmp *t = *state;
  const struct entry es[] = {
    { "d/.wh..wh..opq", AE_IFREG, 0644, "", false },
    { "d/.wh.gone", AE_IFREG, 0644, "", false },
    { "d/.wh..wh.plnk", AE_IFREG, 0644, "", false },
  };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, ARRAY_SIZE(es), false, want);
  tank_error *err = NULL;
  int r = layer_unpack(fd, t->root_fd, &rootless, got, &err);
  close(fd);
  if (r < 0)
    fail_msg("%s", err->msg);
  struct stat st;
  assert_true(fstatat(t->root_fd, "d/.wh.gone", &st, AT_SYMLINK_NOFOLLOW) < 0);
  assert_true(fstatat(t->root_fd, "d/.wh..wh..opq", &st, AT_SYMLINK_NOFOLLOW) < 0);
  if (geteuid() == 0) {
    assert_int_equal(fstatat(t->root_fd, "d/gone", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    char v[4] = "";
    char p[160];
    snprintf(p, sizeof p, "%s/d", t->root);
    assert_int_equal(getxattr(p, "trusted.overlay.opaque", v, sizeof v), 1);
    assert_int_equal(v[0], 'y');
  }
}

static void
test_limits_and_truncation(void **state)
{
  struct tmp *t = *state;
  const struct entry es[] = {
    { "a", AE_IFREG, 0644, "1", false },
    { "b", AE_IFREG, 0644, "2", false },
    { "c", AE_IFREG, 0644, "3", false },
  };
  char want[DIGEST_STRING_LEN], got[DIGEST_STRING_LEN];
  int fd = make_layer(es, ARRAY_SIZE(es), false, want);
  struct unpack_options o = { .rootless = true, .max_entries = 2 };
  tank_error *err = NULL;
  assert_true(layer_unpack(fd, t->root_fd, &o, got, &err) < 0);
  assert_non_null(strstr(err->msg, "more than 2 entries"));
  tank_error_free(err);
  err = NULL;
  /* Cut the stream in the middle of the second header. */
  lseek(fd, 0, SEEK_SET);
  assert_int_equal(ftruncate(fd, 700), 0);
  assert_true(layer_unpack(fd, t->root_fd, &rootless, got, &err) < 0);
  tank_error_free(err);
  close(fd);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_basic_types, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_gzip_diff_id, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_escapes_contained, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_hardlink_out_refused, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_whiteouts, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_limits_and_truncation, setup_tmp, teardown_tmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
