/* Whole-file reads with a size limit, for configs and specs a user hands us. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Reads all of fd into a NUL-terminated buffer. Fails with EFBIG when the data
 * exceeds max_bytes, without reading (or allocating) much more than that. */
int read_fd_limited(int fd, size_t max_bytes, char **ret_buf, size_t *ret_len, tank_error **err);

/* Same for a path; "-" means standard input. */
int read_file_limited(const char *path, size_t max_bytes, char **ret_buf, size_t *ret_len,
                      tank_error **err);

/* Creates path and its missing parents (parents 0755, the last `mode`); an
 * existing directory is fine. Returns 0 or a negative errno (-ENOTDIR when
 * something else is in the way). */
int mkdir_parents(const char *path, mode_t mode);

/* Removes name (a file or a whole tree) beneath dir_fd, never following a
 * symlink and never descending into another file system (-EBUSY). A missing
 * name is fine (0). */
int remove_tree_at(int dir_fd, const char *name);
/* The same for a path. */
int rm_tree(const char *path);
