/* A WAL flusher for the SQLite store's `sync=normal` mode: commits return
 * without fsync, and this thread fdatasyncs the WAL file within a bounded delay
 * of the first unsynced commit, so a power cut loses at most that window while
 * a process crash loses nothing. It never calls into caller code. */
#pragma once

#include "util/error.h"

struct wal_flusher;

int wal_flusher_start(const char *wal_path, int interval_ms, struct wal_flusher **ret,
                      tank_error **err);
/* Called after each commit: the WAL will be synced within interval_ms. */
void wal_flusher_dirty(struct wal_flusher *f);
/* Stops the thread after a last sync. NULL is fine. */
void wal_flusher_stop(struct wal_flusher *f);
