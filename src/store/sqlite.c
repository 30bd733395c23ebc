/* The SQLite store backend: one WAL-mode file, a store-wide revision bumped in
 * the same transaction as each write, a history table that watches read from
 * (compacted to a bound), leases, and cross-process watch wake-ups through an
 * inotify of the database's directory (writers touch the WAL after commit). */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define LIST_MAX_BYTES     (256u * 1024 * 1024)
#define WATCH_BATCH_EVENTS 256
#define WATCH_BATCH_BYTES  (8u * 1024 * 1024)
#define AUTO_COMPACT_EVERY 256

static const char schema_sql[]
    = "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
      "  rev INTEGER NOT NULL, compact_rev INTEGER NOT NULL);"
      "INSERT OR IGNORE INTO meta VALUES (1, 0, 0);"
      "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL,"
      "  create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, lease INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease != 0;"
      "CREATE TABLE IF NOT EXISTS history (rev INTEGER PRIMARY KEY, key BLOB NOT NULL,"
      "  value BLOB);" /* value NULL: a delete */
      "CREATE TABLE IF NOT EXISTS lease (id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL,"
      "  expires_ms INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS lease_by_expiry ON lease (expires_ms);";

enum stmt_id {
  ST_BEGIN_WRITE,
  ST_BEGIN_READ,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_META,
  ST_BUMP,
  ST_GET,
  ST_UPSERT,
  ST_DELETE,
  ST_HISTORY_ADD,
  ST_HISTORY_COMPACT,
  ST_SET_COMPACT,
  ST_LIST,
  ST_LIST_ALL,
  ST_WATCH_RANGE,
  ST_WATCH_ALL,
  ST_LEASE_DUE,
  ST_LEASE_GET,
  ST_LEASE_ADD,
  ST_LEASE_TOUCH,
  ST_LEASE_DROP,
  ST_LEASE_KEYS,
  ST_MAX,
};

static const char *const stmt_sql[ST_MAX] = {
  [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
  [ST_BEGIN_READ] = "BEGIN DEFERRED",
  [ST_COMMIT] = "COMMIT",
  [ST_ROLLBACK] = "ROLLBACK",
  [ST_META] = "SELECT rev, compact_rev FROM meta WHERE id = 1",
  [ST_BUMP] = "UPDATE meta SET rev = rev + 1 WHERE id = 1 RETURNING rev",
  [ST_GET] = "SELECT value, create_rev, mod_rev, lease FROM kv WHERE key = ?1",
  [ST_UPSERT]
  = "INSERT INTO kv (key, value, create_rev, mod_rev, lease) VALUES (?1, ?2, ?3, ?5, ?4)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
    " mod_rev = excluded.mod_rev, lease = excluded.lease",
  [ST_DELETE] = "DELETE FROM kv WHERE key = ?1",
  [ST_HISTORY_ADD] = "INSERT INTO history (rev, key, value) VALUES (?1, ?2, ?3)",
  [ST_HISTORY_COMPACT] = "DELETE FROM history WHERE rev < ?1",
  [ST_SET_COMPACT] = "UPDATE meta SET compact_rev = ?1 WHERE id = 1 AND compact_rev < ?1",
  [ST_LIST] = "SELECT key, value, create_rev, mod_rev, lease FROM kv"
              " WHERE key >= ?1 AND key < ?2 ORDER BY key",
  [ST_LIST_ALL] = "SELECT key, value, create_rev, mod_rev, lease FROM kv"
                  " WHERE key >= ?1 ORDER BY key",
  [ST_WATCH_RANGE] = "SELECT rev, key, value FROM history WHERE rev >= ?1"
                     " AND key >= ?2 AND key < ?3 ORDER BY rev LIMIT ?4",
  [ST_WATCH_ALL] = "SELECT rev, key, value FROM history WHERE rev >= ?1"
                   " AND key >= ?2 ORDER BY rev LIMIT ?4",
  [ST_LEASE_DUE] = "SELECT id FROM lease WHERE expires_ms <= ?1 LIMIT 1",
  [ST_LEASE_GET] = "SELECT ttl FROM lease WHERE id = ?1 AND expires_ms > ?2",
  [ST_LEASE_ADD] = "INSERT INTO lease (ttl, expires_ms) VALUES (?1, ?2)",
  [ST_LEASE_TOUCH] = "UPDATE lease SET expires_ms = ?2 + ttl * 1000 WHERE id = ?1"
                     " AND expires_ms > ?2 RETURNING ttl",
  [ST_LEASE_DROP] = "DELETE FROM lease WHERE id = ?1",
  [ST_LEASE_KEYS] = "SELECT key FROM kv WHERE lease = ?1",
};

struct sqlite_store {
  tank_store base;
  sqlite3 *db;
  sqlite3_stmt *stmt[ST_MAX];
  char *path;
  char *wal_path;
  char *dir; /* the database's directory, inotify-watched by watches */
  int64_t history;
  int timeout_ms;
};

struct sqlite_watch {
  tank_store_watch base;
  struct sqlite_store *s;
  uint8_t *prefix, *end; /* [prefix, end) or [prefix, inf) when end is NULL */
  size_t prefix_len, end_len;
  int64_t next_rev;
  int epoll_fd, inotify_fd, more_fd;
  struct tank_store_event *queue;
  size_t q_head, q_len;
  bool failed;
};

static const struct tank_store_ops sqlite_ops;

static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Maps an SQLite result to the seam's errors: busy/locked is "unavailable". */
static int
db_error(struct sqlite_store *s, int rc, tank_error **err, const char *step)
{
  int primary = rc & 0xff;
  const char *msg = sqlite3_errmsg(s->db);
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return tank_error_set(err, TANK_STORE_EUNAVAILABLE,
                            "sqlite `%s`: %s: %s (gave up after %d ms)", s->path, step, msg,
                            s->timeout_ms);
    case SQLITE_FULL:
      return tank_error_set(err, ENOSPC, "sqlite `%s`: %s: %s", s->path, step, msg);
    case SQLITE_NOMEM:
      return tank_error_set(err, ENOMEM, "sqlite `%s`: %s", s->path, step);
    case SQLITE_TOOBIG:
      return tank_error_set(err, E2BIG, "sqlite `%s`: %s: %s", s->path, step, msg);
    default:
      return tank_error_set(err, EIO, "sqlite `%s`: %s: %s", s->path, step, msg);
  }
}

static sqlite3_stmt *
stmt(struct sqlite_store *s, enum stmt_id id)
{
  sqlite3_stmt *st = s->stmt[id];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

/* Runs a statement that returns no row (or whose rows are ignored). */
static int
exec_stmt(struct sqlite_store *s, enum stmt_id id, tank_error **err)
{
  sqlite3_stmt *st = stmt(s, id);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return db_error(s, rc, err, stmt_sql[id]);
  return 0;
}

static void
rollback(struct sqlite_store *s)
{
  if (!sqlite3_get_autocommit(s->db))
    exec_stmt(s, ST_ROLLBACK, NULL);
}

static int
read_meta(struct sqlite_store *s, int64_t *ret_rev, int64_t *ret_compact, tank_error **err)
{
  sqlite3_stmt *st = stmt(s, ST_META);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return db_error(s, rc, err, "read revision");
  }
  *ret_rev = sqlite3_column_int64(st, 0);
  if (ret_compact)
    *ret_compact = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  return 0;
}

/* Wakes watchers in every process: they inotify-watch the directory for an
 * attribute change of the WAL file. Done after COMMIT returns, so whoever
 * wakes sees the commit. */
static void
notify_watchers(struct sqlite_store *s)
{
  (void)utimensat(AT_FDCWD, s->wal_path, NULL, 0);
}

/* Appends one write to kv and history at a new revision (inside a write txn). */
static int
record_write(struct sqlite_store *s, const void *key, size_t key_len, const void *value,
             size_t value_len, bool is_delete, int64_t create_rev, int64_t lease, int64_t *ret_rev,
             tank_error **err)
{
  sqlite3_stmt *st = stmt(s, ST_BUMP);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return db_error(s, rc, err, "bump revision");
  }
  int64_t rev = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);

  if (is_delete) {
    st = stmt(s, ST_DELETE);
    sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
  } else {
    st = stmt(s, ST_UPSERT);
    sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, value_len ? value : "", (int)value_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, create_rev ? create_rev : rev);
    sqlite3_bind_int64(st, 4, lease);
    sqlite3_bind_int64(st, 5, rev);
    /* ON CONFLICT keeps the old create_rev: only value, mod_rev and lease change. */
  }
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return db_error(s, rc, err, is_delete ? "delete key" : "write key");

  st = stmt(s, ST_HISTORY_ADD);
  sqlite3_bind_int64(st, 1, rev);
  sqlite3_bind_blob(st, 2, key, (int)key_len, SQLITE_STATIC);
  if (is_delete)
    sqlite3_bind_null(st, 3);
  else
    sqlite3_bind_blob(st, 3, value_len ? value : "", (int)value_len, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return db_error(s, rc, err, "append history");

  /* Bounded history: every AUTO_COMPACT_EVERY revisions, forget what is older
   * than the last `history` revisions. */
  if (rev % AUTO_COMPACT_EVERY == 0 && rev > s->history) {
    int64_t keep_from = rev - s->history + 1;
    st = stmt(s, ST_HISTORY_COMPACT);
    sqlite3_bind_int64(st, 1, keep_from);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      return db_error(s, rc, err, "compact history");
    st = stmt(s, ST_SET_COMPACT);
    sqlite3_bind_int64(st, 1, keep_from);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      return db_error(s, rc, err, "record compaction");
  }
  *ret_rev = rev;
  return 0;
}

/* Revokes one lease inside a write txn: deletes its keys (one revision each). */
static int
drop_lease(struct sqlite_store *s, int64_t lease, tank_error **err)
{
  for (;;) {
    sqlite3_stmt *st = stmt(s, ST_LEASE_KEYS);
    sqlite3_bind_int64(st, 1, lease);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
      sqlite3_reset(st);
      break;
    }
    if (rc != SQLITE_ROW) {
      sqlite3_reset(st);
      return db_error(s, rc, err, "list lease keys");
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    _cleanup_free_ void *key = malloc(n ? n : 1);
    if (key == NULL) {
      sqlite3_reset(st);
      return tank_error_set(err, ENOMEM, "lease key");
    }
    memcpy(key, sqlite3_column_blob(st, 0), n);
    sqlite3_reset(st);
    int64_t rev;
    int r = record_write(s, key, n, NULL, 0, true, 0, 0, &rev, err);
    if (r < 0)
      return r;
  }
  sqlite3_stmt *st = stmt(s, ST_LEASE_DROP);
  sqlite3_bind_int64(st, 1, lease);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return db_error(s, rc, err, "drop lease");
  return 0;
}

/* Leases expire lazily: the next call on any connection deletes the keys of
 * every lease past its deadline (inside its own write txn). */
static int
expire_leases(struct sqlite_store *s, tank_error **err)
{
  for (;;) {
    sqlite3_stmt *st = stmt(s, ST_LEASE_DUE);
    sqlite3_bind_int64(st, 1, now_ms());
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
      sqlite3_reset(st);
      return 0;
    }
    if (rc != SQLITE_ROW) {
      sqlite3_reset(st);
      return db_error(s, rc, err, "find expired leases");
    }
    int64_t lease = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    int r = drop_lease(s, lease, err);
    if (r < 0)
      return r;
  }
}

static bool
lease_due(struct sqlite_store *s)
{
  sqlite3_stmt *st = stmt(s, ST_LEASE_DUE);
  sqlite3_bind_int64(st, 1, now_ms());
  bool due = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  return due;
}

static int
begin_write(struct sqlite_store *s, tank_error **err)
{
  int r = exec_stmt(s, ST_BEGIN_WRITE, err);
  if (r < 0)
    return r;
  r = expire_leases(s, err);
  if (r < 0)
    rollback(s);
  return r;
}

static int
commit(struct sqlite_store *s, tank_error **err)
{
  int r = exec_stmt(s, ST_COMMIT, err);
  if (r < 0) {
    rollback(s);
    return r;
  }
  notify_watchers(s);
  return 0;
}

/* Reads the key's current create/mod revision (0, 0 when absent). */
static int
key_revs(struct sqlite_store *s, const char *key, int64_t *ret_create, int64_t *ret_mod,
         tank_error **err)
{
  sqlite3_stmt *st = stmt(s, ST_GET);
  sqlite3_bind_blob(st, 1, key, (int)strlen(key), SQLITE_STATIC);
  int rc = sqlite3_step(st);
  *ret_create = *ret_mod = 0;
  if (rc == SQLITE_ROW) {
    *ret_create = sqlite3_column_int64(st, 1);
    *ret_mod = sqlite3_column_int64(st, 2);
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(st);
    return db_error(s, rc, err, "read key");
  }
  sqlite3_reset(st);
  return 0;
}

static int
check_expect(const char *op, const char *key, int64_t expect_rev, int64_t mod_rev, tank_error **err)
{
  if (expect_rev == TANK_STORE_REV_ABSENT && mod_rev != 0)
    return tank_error_set(err, TANK_STORE_ECONFLICT,
                          "%s `%s`: expected no key, found one at revision %lld", op, key,
                          (long long)mod_rev);
  if (expect_rev > 0 && mod_rev != expect_rev)
    return tank_error_set(err, TANK_STORE_ECONFLICT,
                          "%s `%s`: expected revision %lld, key is at %lld", op, key,
                          (long long)expect_rev, (long long)mod_rev);
  return 0;
}

static int
sqlite_put(tank_store *base, const char *key, const void *value, size_t value_len,
           int64_t expect_rev, int64_t lease, int64_t *ret_rev, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = tank_store_check_put(key, value_len, expect_rev, err);
  if (r < 0)
    return r;
  r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "put `%s`", key);
  int64_t create_rev, mod_rev, rev;
  r = key_revs(s, key, &create_rev, &mod_rev, err);
  if (r >= 0)
    r = check_expect("put", key, expect_rev, mod_rev, err);
  if (r >= 0 && lease != 0) {
    sqlite3_stmt *st = stmt(s, ST_LEASE_GET);
    sqlite3_bind_int64(st, 1, lease);
    sqlite3_bind_int64(st, 2, now_ms());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
      r = tank_error_set(err, TANK_STORE_ENOTFOUND, "put `%s`: lease %lld not found", key,
                         (long long)lease);
  }
  if (r >= 0)
    r = record_write(s, key, strlen(key), value, value_len, false, create_rev, lease, &rev, err);
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    if (r == -TANK_STORE_ECONFLICT || r == -TANK_STORE_ENOTFOUND)
      return r;
    return tank_error_wrap(err, "put `%s`", key);
  }
  if (ret_rev)
    *ret_rev = rev;
  return 0;
}

static int
sqlite_delete(tank_store *base, const char *key, int64_t expect_rev, int64_t *ret_rev,
              tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = tank_store_check_key(key, err);
  if (r < 0)
    return r;
  if (expect_rev < 0)
    return tank_error_set(err, EINVAL, "delete `%s`: expected revision must be 0 or > 0", key);
  r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "delete `%s`", key);
  int64_t create_rev, mod_rev, rev;
  r = key_revs(s, key, &create_rev, &mod_rev, err);
  if (r >= 0 && mod_rev == 0)
    r = tank_error_set(err, TANK_STORE_ENOTFOUND, "delete `%s`: no such key", key);
  if (r >= 0)
    r = check_expect("delete", key, expect_rev, mod_rev, err);
  if (r >= 0)
    r = record_write(s, key, strlen(key), NULL, 0, true, 0, 0, &rev, err);
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    if (r == -TANK_STORE_ECONFLICT || r == -TANK_STORE_ENOTFOUND)
      return r;
    return tank_error_wrap(err, "delete `%s`", key);
  }
  if (ret_rev)
    *ret_rev = rev;
  return 0;
}

/* Reads can find leases past their deadline; expire them first so a read never
 * returns a key whose lease is gone. */
static int
expire_before_read(struct sqlite_store *s, tank_error **err)
{
  if (!lease_due(s))
    return 0;
  int r = begin_write(s, err);
  if (r < 0)
    return r;
  return commit(s, err);
}

static int
copy_blob(const void *src, size_t n, uint8_t **ret)
{
  uint8_t *p = malloc(n + 1);
  if (p == NULL)
    return -ENOMEM;
  if (n)
    memcpy(p, src, n);
  p[n] = 0;
  *ret = p;
  return 0;
}

static int
sqlite_get(tank_store *base, const char *key, struct tank_store_kv *ret_kv, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = tank_store_check_key(key, err);
  if (r < 0)
    return r;
  r = expire_before_read(s, err);
  if (r < 0)
    return tank_error_wrap(err, "get `%s`", key);
  sqlite3_stmt *st = stmt(s, ST_GET);
  sqlite3_bind_blob(st, 1, key, (int)strlen(key), SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    sqlite3_reset(st);
    return tank_error_set(err, TANK_STORE_ENOTFOUND, "get `%s`: no such key", key);
  }
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    db_error(s, rc, err, "read key");
    return tank_error_wrap(err, "get `%s`", key);
  }
  struct tank_store_kv kv = {
    .key = strdup(key),
    .value_len = (size_t)sqlite3_column_bytes(st, 0),
    .create_rev = sqlite3_column_int64(st, 1),
    .mod_rev = sqlite3_column_int64(st, 2),
    .lease = sqlite3_column_int64(st, 3),
  };
  r = copy_blob(sqlite3_column_blob(st, 0), kv.value_len, &kv.value);
  sqlite3_reset(st);
  if (r < 0 || kv.key == NULL) {
    tank_store_kv_clear(&kv);
    return tank_error_set(err, ENOMEM, "get `%s`", key);
  }
  *ret_kv = kv;
  return 0;
}

/* The end of the key range holding every key that starts with prefix: the prefix
 * with its last byte below 0xff incremented. NULL (no end) for "" or all 0xff. */
static uint8_t *
prefix_end(const char *prefix, size_t *ret_len)
{
  size_t n = strlen(prefix);
  while (n > 0 && (uint8_t)prefix[n - 1] == 0xff)
    n--;
  if (n == 0)
    return NULL;
  uint8_t *end = malloc(n);
  if (end == NULL)
    return NULL;
  memcpy(end, prefix, n);
  end[n - 1]++;
  *ret_len = n;
  return end;
}

static int
list_rows(struct sqlite_store *s, const char *prefix, struct tank_store_list *out, tank_error **err)
{
  size_t end_len = 0, cap = 0, bytes = 0;
  _cleanup_free_ uint8_t *end = prefix_end(prefix, &end_len);
  sqlite3_stmt *st = stmt(s, end ? ST_LIST : ST_LIST_ALL);
  sqlite3_bind_blob(st, 1, prefix, (int)strlen(prefix), SQLITE_STATIC);
  if (end)
    sqlite3_bind_blob(st, 2, end, (int)end_len, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->n_items == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct tank_store_kv *n = realloc(out->items, ncap * sizeof *n);
      if (n == NULL)
        break;
      out->items = n;
      cap = ncap;
    }
    struct tank_store_kv *kv = &out->items[out->n_items];
    memset(kv, 0, sizeof *kv);
    size_t klen = (size_t)sqlite3_column_bytes(st, 0);
    kv->value_len = (size_t)sqlite3_column_bytes(st, 1);
    bytes += klen + kv->value_len;
    if (bytes > LIST_MAX_BYTES) {
      sqlite3_reset(st);
      return tank_error_set(err, E2BIG, "list `%s`: more than %u bytes", prefix, LIST_MAX_BYTES);
    }
    if (copy_blob(sqlite3_column_blob(st, 0), klen, (uint8_t **)&kv->key) < 0
        || copy_blob(sqlite3_column_blob(st, 1), kv->value_len, &kv->value) < 0) {
      out->n_items++;
      sqlite3_reset(st);
      return tank_error_set(err, ENOMEM, "list `%s`", prefix);
    }
    kv->create_rev = sqlite3_column_int64(st, 2);
    kv->mod_rev = sqlite3_column_int64(st, 3);
    kv->lease = sqlite3_column_int64(st, 4);
    out->n_items++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return rc == SQLITE_ROW ? tank_error_set(err, ENOMEM, "list `%s`", prefix)
                            : db_error(s, rc, err, "list keys");
  return 0;
}

static int
sqlite_list(tank_store *base, const char *prefix, struct tank_store_list *ret_list,
            tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  struct tank_store_list out = { 0 };
  if (prefix == NULL || strnlen(prefix, TANK_STORE_KEY_MAX + 1) > TANK_STORE_KEY_MAX)
    return tank_error_set(err, EINVAL, "list: prefix missing or too long");
  int r = expire_before_read(s, err);
  if (r >= 0)
    r = exec_stmt(s, ST_BEGIN_READ, err);
  if (r >= 0)
    r = read_meta(s, &out.rev, NULL, err);
  if (r >= 0)
    r = list_rows(s, prefix, &out, err);
  if (r >= 0)
    r = exec_stmt(s, ST_COMMIT, err);
  if (r < 0) {
    rollback(s);
    tank_store_list_clear(&out);
    return tank_error_wrap(err, "list `%s`", prefix);
  }
  *ret_list = out;
  return 0;
}

static int
sqlite_compact(tank_store *base, int64_t rev, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int64_t cur;
  int r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "compact to %lld", (long long)rev);
  r = read_meta(s, &cur, NULL, err);
  if (r >= 0 && (rev <= 0 || rev > cur))
    r = tank_error_set(err, EINVAL, "compact to %lld: want a revision in 1..%lld", (long long)rev,
                       (long long)cur);
  if (r >= 0) {
    sqlite3_stmt *st = stmt(s, ST_HISTORY_COMPACT);
    sqlite3_bind_int64(st, 1, rev);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
      st = stmt(s, ST_SET_COMPACT);
      sqlite3_bind_int64(st, 1, rev);
      rc = sqlite3_step(st);
      sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE)
      r = db_error(s, rc, err, "compact history");
  }
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    return r == -EINVAL ? r : tank_error_wrap(err, "compact to %lld", (long long)rev);
  }
  return 0;
}

static int
sqlite_lease_grant(tank_store *base, int64_t ttl_s, int64_t *ret_lease, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "grant lease");
  sqlite3_stmt *st = stmt(s, ST_LEASE_ADD);
  sqlite3_bind_int64(st, 1, ttl_s);
  sqlite3_bind_int64(st, 2, now_ms() + ttl_s * 1000);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    r = db_error(s, rc, err, "insert lease");
  int64_t id = sqlite3_last_insert_rowid(s->db);
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    return tank_error_wrap(err, "grant lease");
  }
  *ret_lease = id;
  return 0;
}

static int
sqlite_lease_keepalive(tank_store *base, int64_t lease, int64_t *ret_ttl_s, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "keep lease %lld alive", (long long)lease);
  sqlite3_stmt *st = stmt(s, ST_LEASE_TOUCH);
  sqlite3_bind_int64(st, 1, lease);
  sqlite3_bind_int64(st, 2, now_ms());
  int rc = sqlite3_step(st);
  int64_t ttl = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    r = tank_error_set(err, TANK_STORE_ENOTFOUND, "keep lease %lld alive: lease not found",
                       (long long)lease);
  else if (rc != SQLITE_ROW)
    r = db_error(s, rc, err, "refresh lease");
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    return r == -TANK_STORE_ENOTFOUND
               ? r
               : tank_error_wrap(err, "keep lease %lld alive", (long long)lease);
  }
  if (ret_ttl_s)
    *ret_ttl_s = ttl;
  return 0;
}

static int
sqlite_lease_revoke(tank_store *base, int64_t lease, tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  int r = begin_write(s, err);
  if (r < 0)
    return tank_error_wrap(err, "revoke lease %lld", (long long)lease);
  sqlite3_stmt *st = stmt(s, ST_LEASE_GET);
  sqlite3_bind_int64(st, 1, lease);
  sqlite3_bind_int64(st, 2, INT64_MIN);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    r = tank_error_set(err, TANK_STORE_ENOTFOUND, "revoke lease %lld: lease not found",
                       (long long)lease);
  else if (rc != SQLITE_ROW)
    r = db_error(s, rc, err, "find lease");
  if (r >= 0)
    r = drop_lease(s, lease, err);
  if (r >= 0)
    r = commit(s, err);
  if (r < 0) {
    rollback(s);
    return r == -TANK_STORE_ENOTFOUND ? r
                                      : tank_error_wrap(err, "revoke lease %lld", (long long)lease);
  }
  return 0;
}

/* ---- watches ---- */

static int
sqlite_watch_fd(tank_store_watch *base)
{
  return ((struct sqlite_watch *)base)->epoll_fd;
}

static void
drain_fd(int fd)
{
  char buf[4096];
  while (read(fd, buf, sizeof buf) > 0)
    ;
}

static void
signal_more(struct sqlite_watch *w)
{
  uint64_t one = 1;
  (void)!write(w->more_fd, &one, sizeof one);
}

/* Reads the next batch of history at or after next_rev into the queue. */
static int
watch_fill(struct sqlite_watch *w, tank_error **err)
{
  struct sqlite_store *s = w->s;
  int64_t rev, compact_rev;
  /* Drain wake-ups before reading, so a commit after the read wakes us again. */
  drain_fd(w->inotify_fd);
  drain_fd(w->more_fd);
  int r = exec_stmt(s, ST_BEGIN_READ, err);
  if (r >= 0)
    r = read_meta(s, &rev, &compact_rev, err);
  if (r < 0) {
    rollback(s);
    return r;
  }
  if (w->next_rev < compact_rev) {
    rollback(s);
    return tank_error_set(err, TANK_STORE_ECOMPACTED,
                          "watch from revision %lld: history before %lld is compacted",
                          (long long)w->next_rev, (long long)compact_rev);
  }
  sqlite3_stmt *st = stmt(s, w->end ? ST_WATCH_RANGE : ST_WATCH_ALL);
  sqlite3_bind_int64(st, 1, w->next_rev);
  sqlite3_bind_blob(st, 2, w->prefix, (int)w->prefix_len, SQLITE_STATIC);
  if (w->end)
    sqlite3_bind_blob(st, 3, w->end, (int)w->end_len, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, WATCH_BATCH_EVENTS);
  size_t bytes = 0;
  int rc;
  bool full = false;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct tank_store_event *ev = &w->queue[w->q_len];
    memset(ev, 0, sizeof *ev);
    ev->rev = sqlite3_column_int64(st, 0);
    size_t klen = (size_t)sqlite3_column_bytes(st, 1);
    bool is_delete = sqlite3_column_type(st, 2) == SQLITE_NULL;
    ev->type = is_delete ? TANK_STORE_EVENT_DELETE : TANK_STORE_EVENT_PUT;
    ev->value_len = is_delete ? 0 : (size_t)sqlite3_column_bytes(st, 2);
    if (copy_blob(sqlite3_column_blob(st, 1), klen, (uint8_t **)&ev->key) < 0
        || (!is_delete && copy_blob(sqlite3_column_blob(st, 2), ev->value_len, &ev->value) < 0)) {
      tank_store_event_clear(ev);
      rc = SQLITE_NOMEM;
      break;
    }
    w->q_len++;
    w->next_rev = ev->rev + 1;
    bytes += klen + ev->value_len;
    if (w->q_len == WATCH_BATCH_EVENTS || bytes >= WATCH_BATCH_BYTES) {
      full = true;
      break;
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    rollback(s);
    return db_error(s, rc, err, "read history");
  }
  exec_stmt(s, ST_COMMIT, NULL);
  if (full)
    signal_more(w);
  else if (w->next_rev <= rev)
    w->next_rev = rev + 1; /* nothing under the prefix up to rev */
  return 0;
}

static int
sqlite_watch_next(tank_store_watch *base, struct tank_store_event *ret_event, tank_error **err)
{
  struct sqlite_watch *w = (struct sqlite_watch *)base;
  if (w->failed)
    return tank_error_set(err, EINVAL, "watch already failed");
  if (w->q_head == w->q_len) {
    w->q_head = w->q_len = 0;
    int r = watch_fill(w, err);
    if (r < 0) {
      w->failed = true;
      return r;
    }
    if (w->q_len == 0)
      return 0;
  }
  *ret_event = w->queue[w->q_head];
  memset(&w->queue[w->q_head], 0, sizeof w->queue[0]);
  w->q_head++;
  if (w->q_head < w->q_len)
    signal_more(w); /* keep the fd readable while events are queued */
  return 1;
}

static void
sqlite_watch_free(tank_store_watch *base)
{
  struct sqlite_watch *w = (struct sqlite_watch *)base;
  for (size_t i = w->q_head; i < w->q_len; i++)
    tank_store_event_clear(&w->queue[i]);
  free(w->queue);
  if (w->epoll_fd >= 0)
    close(w->epoll_fd);
  if (w->inotify_fd >= 0)
    close(w->inotify_fd);
  if (w->more_fd >= 0)
    close(w->more_fd);
  free(w->prefix);
  free(w->end);
  free(w);
}

static int
sqlite_watch(tank_store *base, const char *prefix, int64_t from_rev, tank_store_watch **ret_watch,
             tank_error **err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  if (prefix == NULL || strnlen(prefix, TANK_STORE_KEY_MAX + 1) > TANK_STORE_KEY_MAX)
    return tank_error_set(err, EINVAL, "watch: prefix missing or too long");
  struct sqlite_watch *w = calloc(1, sizeof *w);
  if (w == NULL)
    return tank_error_set(err, ENOMEM, "watch `%s`", prefix);
  w->base.ops = &sqlite_ops;
  w->s = s;
  w->epoll_fd = w->inotify_fd = w->more_fd = -EBADF;
  w->prefix_len = strlen(prefix);
  w->prefix = malloc(w->prefix_len + 1);
  w->queue = calloc(WATCH_BATCH_EVENTS, sizeof *w->queue);
  if (w->prefix == NULL || w->queue == NULL) {
    sqlite_watch_free(&w->base);
    return tank_error_set(err, ENOMEM, "watch `%s`", prefix);
  }
  memcpy(w->prefix, prefix, w->prefix_len + 1);
  w->end = prefix_end(prefix, &w->end_len);

  int r = 0;
  w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  w->more_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (w->inotify_fd < 0 || w->more_fd < 0 || w->epoll_fd < 0)
    r = tank_error_set(err, errno, "watch `%s`: create fds", prefix);
  if (r >= 0 && inotify_add_watch(w->inotify_fd, s->dir, IN_ATTRIB | IN_ONLYDIR) < 0)
    r = tank_error_set(err, errno, "watch `%s`: inotify `%s`", prefix, s->dir);
  struct epoll_event ee = { .events = EPOLLIN };
  if (r >= 0
      && (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->inotify_fd, &ee) < 0
          || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->more_fd, &ee) < 0))
    r = tank_error_set(err, errno, "watch `%s`: epoll", prefix);
  int64_t rev;
  if (r >= 0 && (r = read_meta(s, &rev, NULL, err)) >= 0)
    w->next_rev = from_rev > 0 ? from_rev : rev + 1;
  if (r < 0) {
    sqlite_watch_free(&w->base);
    return r;
  }
  signal_more(w); /* history since from_rev (or a compaction error) is ready now */
  *ret_watch = &w->base;
  return 0;
}

/* ---- open and close ---- */

static void
sqlite_close(tank_store *base)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  for (size_t i = 0; i < ST_MAX; i++)
    sqlite3_finalize(s->stmt[i]);
  sqlite3_close(s->db);
  free(s->path);
  free(s->wal_path);
  free(s->dir);
  free(s);
}

static int
open_db(struct sqlite_store *s, bool sync_full, tank_error **err)
{
  int rc = sqlite3_open_v2(s->path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    int e = s->db ? sqlite3_system_errno(s->db) : 0;
    return tank_error_set(err, e > 0 ? e : EIO, "open sqlite `%s`: %s", s->path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(s->db, s->timeout_ms);
  sqlite3_extended_result_codes(s->db, 1);
  char *errmsg = NULL;
  char pragmas[256];
  snprintf(pragmas, sizeof pragmas,
           "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = OFF;",
           sync_full ? "FULL" : "NORMAL");
  rc = sqlite3_exec(s->db, pragmas, NULL, NULL, &errmsg);
  if (rc == SQLITE_OK) {
    /* Two processes may create the schema at once: do it in one write txn. */
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &errmsg);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, &errmsg);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, &errmsg);
    else
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  }
  if (rc != SQLITE_OK) {
    int e = (rc & 0xff) == SQLITE_BUSY ? TANK_STORE_EUNAVAILABLE : EIO;
    int r = tank_error_set(err, e, "open sqlite `%s`: set up schema: %s", s->path,
                           errmsg ? errmsg : sqlite3_errstr(rc));
    sqlite3_free(errmsg);
    return r;
  }
  for (size_t i = 0; i < ST_MAX; i++) {
    rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
    if (rc != SQLITE_OK)
      return tank_error_set(err, EIO, "open sqlite `%s`: prepare `%s`: %s", s->path, stmt_sql[i],
                            sqlite3_errmsg(s->db));
  }
  return 0;
}

int
tank_store_sqlite_open(const struct tank_store_url *url, tank_store **ret_store, tank_error **err)
{
  struct sqlite_store *s = calloc(1, sizeof *s);
  if (s == NULL)
    return tank_error_set(err, ENOMEM, "open sqlite store");
  s->base.ops = &sqlite_ops;
  s->history = url->history > 0 ? url->history : 10000;
  s->timeout_ms = url->timeout_ms > 0 ? url->timeout_ms : TANK_STORE_DEFAULT_TIMEOUT_MS;
  s->path = strdup(url->path);
  _cleanup_free_ char *copy1 = strdup(url->path);
  if (s->path == NULL || copy1 == NULL || asprintf(&s->wal_path, "%s-wal", url->path) < 0) {
    s->wal_path = NULL;
    sqlite_close(&s->base);
    return tank_error_set(err, ENOMEM, "open sqlite store");
  }
  s->dir = strdup(dirname(copy1));
  if (s->dir == NULL) {
    sqlite_close(&s->base);
    return tank_error_set(err, ENOMEM, "open sqlite store");
  }
  int r = open_db(s, url->sync_full, err);
  if (r < 0) {
    sqlite_close(&s->base);
    return r;
  }
  *ret_store = &s->base;
  return 0;
}

static const struct tank_store_ops sqlite_ops = {
  .name = "sqlite",
  .put = sqlite_put,
  .get = sqlite_get,
  .del = sqlite_delete,
  .list = sqlite_list,
  .watch = sqlite_watch,
  .watch_fd = sqlite_watch_fd,
  .watch_next = sqlite_watch_next,
  .watch_free = sqlite_watch_free,
  .lease_grant = sqlite_lease_grant,
  .lease_keepalive = sqlite_lease_keepalive,
  .lease_revoke = sqlite_lease_revoke,
  .compact = sqlite_compact,
  .close = sqlite_close,
};
