/* image_pull as tankd will use it: on a worker thread, from an OCI layout
 * written here, with progress callbacks, cancellation, a corrupted blob, the
 * cache shared between pulls, removal and pruning. No root needed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "image/image.h"
#include "image/unpack.h"
#include "util/fileio.h"

static char base[64];
static char layout[96];

static void
write_file(const char *path, const void *buf, size_t len)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
}

static void
put_blob(const void *buf, size_t len, char digest[DIGEST_STRING_LEN])
{
  digest_buffer(buf, len, digest);
  char path[256];
  snprintf(path, sizeof path, "%s/blobs/sha256/%s", layout, digest_hex(digest));
  write_file(path, buf, len);
}

static char layer_digest[DIGEST_STRING_LEN];

static int
make_layout(void **state)
{
  strcpy(base, "/tmp/tkim-unit-pull-XXXXXX");
  assert_non_null(mkdtemp(base));
  snprintf(layout, sizeof layout, "%s/layout", base);
  char p[160];
  mkdir(layout, 0755);
  snprintf(p, sizeof p, "%s/blobs", layout);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/blobs/sha256", layout);
  mkdir(p, 0755);

  size_t cap = 1 << 16, used = 0;
  char *tar = malloc(cap);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, tar, cap, &used);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "hello.txt");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 6);
  archive_write_header(a, e);
  archive_write_data(a, "hello\n", 6);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  put_blob(tar, used, layer_digest);

  char config[512], cdigest[DIGEST_STRING_LEN];
  int clen
      = snprintf(config, sizeof config,
                 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                 layer_digest);
  put_blob(config, (size_t)clen, cdigest);
  char manifest[1024], mdigest[DIGEST_STRING_LEN];
  int mlen = snprintf(manifest, sizeof manifest,
                      "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
                      "\"digest\":\"%s\",\"size\":%d},\"layers\":[{\"mediaType\":\"%s\","
                      "\"digest\":\"%s\",\"size\":%zu}]}",
                      MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG, cdigest, clen, MEDIA_OCI_LAYER_TAR,
                      layer_digest, used);
  put_blob(manifest, (size_t)mlen, mdigest);
  /* "dup": the same layer twice, as images with repeated empty layers have. */
  char config2[512], c2digest[DIGEST_STRING_LEN];
  int c2len = snprintf(config2, sizeof config2,
                       "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}",
                       layer_digest, layer_digest);
  put_blob(config2, (size_t)c2len, c2digest);
  char manifest2[1024], m2digest[DIGEST_STRING_LEN];
  int m2len = snprintf(manifest2, sizeof manifest2,
                       "{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":%d},"
                       "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
                       "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                       c2digest, c2len, MEDIA_OCI_LAYER_TAR, layer_digest, used,
                       MEDIA_OCI_LAYER_TAR, layer_digest, used);
  put_blob(manifest2, (size_t)m2len, m2digest);
  char index[1024];
  int ilen = snprintf(index, sizeof index,
                      "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
                      "\"size\":%d,\"annotations\":{\"org.opencontainers.image.ref.name\":\"t\"}},"
                      "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%d,\"annotations\":"
                      "{\"org.opencontainers.image.ref.name\":\"dup\"}}]}",
                      MEDIA_OCI_MANIFEST, mdigest, mlen, MEDIA_OCI_MANIFEST, m2digest, m2len);
  snprintf(p, sizeof p, "%s/index.json", layout);
  write_file(p, index, (size_t)ilen);
  free(tar);
  return 0;
}

static int
remove_layout(void **state)
{
  int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  remove_tree_at(fd, base + 5);
  close(fd);
  return 0;
}

struct job {
  struct image_store *store;
  char ref[160];
  struct image_pull_options opts;
  int stages[IMAGE_PROGRESS_DONE + 1];
  struct image *img;
  tank_error *err;
  int r;
};

static void
on_progress(const struct image_progress *p, void *userdata)
{
  struct job *j = userdata;
  j->stages[p->stage]++;
}

static void *
run_pull(void *data)
{
  struct job *j = data;
  j->r = image_pull(j->store, j->ref, &j->opts, &j->img, &j->err);
  return NULL;
}

static void
open_store(const char *name, struct image_store **ret)
{
  char root[160];
  snprintf(root, sizeof root, "%s/%s", base, name);
  tank_error *err = NULL;
  assert_int_equal(image_store_open(root, ret, &err), 0);
}

static void
pull_in_thread(struct job *j)
{
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, run_pull, j), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
}

static void
test_pull_on_worker_thread(void **state)
{
  struct job j = { .opts = { .rootless = true, .progress = on_progress } };
  j.opts.progress_userdata = &j;
  open_store("store", &j.store);
  snprintf(j.ref, sizeof j.ref, "oci:%s:t", layout);
  pull_in_thread(&j);
  if (j.r < 0)
    fail_msg("%s", j.err->msg);
  assert_int_equal(j.stages[IMAGE_PROGRESS_RESOLVED], 1);
  assert_int_equal(j.stages[IMAGE_PROGRESS_LAYER_DONE], 1);
  assert_int_equal(j.stages[IMAGE_PROGRESS_DONE], 1);
  assert_true(j.stages[IMAGE_PROGRESS_DOWNLOADING] >= 1);
  assert_string_equal(j.img->config.cmd[0], "/hello");
  char p[512];
  snprintf(p, sizeof p, "%s/hello.txt", j.img->lower_dirs[0]);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_size, 6);
  image_free(j.img);

  /* Again: the layer comes from the cache. */
  memset(j.stages, 0, sizeof j.stages);
  j.img = NULL;
  pull_in_thread(&j);
  assert_int_equal(j.r, 0);
  assert_int_equal(j.stages[IMAGE_PROGRESS_CACHED], 1);
  assert_int_equal(j.stages[IMAGE_PROGRESS_LAYER_DONE], 0);
  image_free(j.img);

  struct image_record *v;
  size_t n;
  tank_error *err = NULL;
  assert_int_equal(image_list(j.store, &v, &n, &err), 0);
  assert_int_equal(n, 1);
  image_records_free(v, n);
  uint64_t bytes = 0;
  assert_int_equal(image_remove(j.store, j.ref, &bytes, &err), 0);
  assert_true(bytes > 0);
  assert_true(image_lookup(j.store, j.ref, &j.img, &err) < 0);
  assert_int_equal(err->errnum, ENOENT);
  tank_error_free(err);
  image_store_free(j.store);
}

static void
test_repeated_layer(void **state)
{
  struct job j = { .opts = { .rootless = true } };
  open_store("store-dup", &j.store);
  snprintf(j.ref, sizeof j.ref, "oci:%s:dup", layout);
  pull_in_thread(&j);
  if (j.r < 0)
    fail_msg("%s", j.err->msg);
  assert_int_equal(j.img->record.n_layers, 2);
  /* overlayfs takes a lower dir once: the repeat collapses. */
  assert_non_null(j.img->lower_dirs[0]);
  assert_null(j.img->lower_dirs[1]);
  image_free(j.img);
  image_store_free(j.store);
}

static void
test_cancel(void **state)
{
  volatile int cancel = 1;
  struct job j = { .opts = { .rootless = true, .cancel = &cancel } };
  open_store("store-cancel", &j.store);
  snprintf(j.ref, sizeof j.ref, "oci:%s:t", layout);
  pull_in_thread(&j);
  assert_true(j.r < 0);
  assert_int_equal(j.err->errnum, ECANCELED);
  tank_error_free(j.err);
  j.err = NULL;
  assert_true(image_lookup(j.store, j.ref, &j.img, &j.err) < 0);
  tank_error_free(j.err);
  image_store_free(j.store);
}

static void
test_corrupt_blob(void **state)
{
  char p[256];
  snprintf(p, sizeof p, "%s/blobs/sha256/%s", layout, digest_hex(layer_digest));
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  assert_int_equal(pwrite(fd, "X", 1, 0), 1);
  close(fd);
  struct job j = { .opts = { .rootless = true } };
  open_store("store-corrupt", &j.store);
  snprintf(j.ref, sizeof j.ref, "oci:%s:t", layout);
  pull_in_thread(&j);
  assert_true(j.r < 0);
  assert_int_equal(j.err->errnum, EBADMSG);
  assert_non_null(strstr(j.err->msg, "digest mismatch"));
  tank_error_free(j.err);
  j.err = NULL;
  assert_false(store_has_blob(j.store, layer_digest));
  uint64_t bytes;
  assert_int_equal(image_prune(j.store, &bytes, &j.err), 0);
  image_store_free(j.store);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pull_on_worker_thread),
    cmocka_unit_test(test_repeated_layer),
    cmocka_unit_test(test_cancel),
    cmocka_unit_test(test_corrupt_blob),
  };
  return cmocka_run_group_tests(tests, make_layout, remove_layout);
}
