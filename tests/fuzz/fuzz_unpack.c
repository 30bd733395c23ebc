/* libFuzzer target: the layer unpacker on arbitrary bytes, into a temporary
 * dir, asserting containment: a sibling dir `outside` (and the parent dir)
 * never gains an entry, whatever the archive holds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];
static int base_fd = -1;

static size_t
count_entries(int dir_fd, const char *name)
{
  int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL)
    abort();
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

static void
cleanup(void)
{
  if (base_fd >= 0) {
    remove_tree_at(base_fd, "root");
    remove_tree_at(base_fd, "outside");
    close(base_fd);
    rmdir(base);
    rmdir("/tmp/tkim-fuzz-outside");
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (base_fd < 0) {
    /* The seeds aim at /tmp/tkim-fuzz-outside too. */
    strcpy(base, "/tmp/tkim-fuzz-XXXXXX");
    if (mkdtemp(base) == NULL)
      abort();
    base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mkdirat(base_fd, "outside", 0755);
    mkdir("/tmp/tkim-fuzz-outside", 0755);
    atexit(cleanup);
  }
  if (mkdirat(base_fd, "root", 0755) < 0)
    abort();
  int root = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int blob = memfd_create("layer", MFD_CLOEXEC);
  if (root < 0 || blob < 0 || write(blob, data, size) != (ssize_t)size)
    abort();
  lseek(blob, 0, SEEK_SET);
  struct unpack_options o = { .rootless = true, .max_bytes = 64u << 20, .max_entries = 10000 };
  char diff_id[DIGEST_STRING_LEN];
  tank_error *err = NULL;
  layer_unpack(blob, root, &o, diff_id, &err);
  tank_error_free(err);
  close(blob);
  close(root);
  if (count_entries(base_fd, "outside") != 0 || count_entries(base_fd, ".") != 2
      || count_entries(AT_FDCWD, "/tmp/tkim-fuzz-outside") != 0)
    abort();
  if (remove_tree_at(base_fd, "root") < 0)
    abort();
  return 0;
}
