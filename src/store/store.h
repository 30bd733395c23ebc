/* The desired-state store seam (DESIGN.md §3): one small interface, a struct of
 * function pointers, with two backends that behave the same: SQLite (sqlite.c,
 * the embedded default) and etcd v3 through its JSON gateway (etcd.c).
 *
 * Model (etcd's): one store-wide revision, bumped by every write; each key has a
 * create and a mod revision. Values are binary-safe byte strings of at most
 * TANK_STORE_VALUE_MAX bytes; keys are NUL-free strings of at most
 * TANK_STORE_KEY_MAX bytes.
 *
 *   put(key, value, expect_rev, lease) -> new revision
 *       expect_rev 0 = any, TANK_STORE_REV_ABSENT (-1) = must not exist,
 *       N > 0 = compare-and-swap on the key's mod revision.
 *   get(key) -> value, create/mod revision       delete(key, expect_rev) -> revision
 *   list(prefix) -> entries sorted by key, and the store revision they were read at
 *   watch(prefix, from_rev) -> a watch: events (put/delete, value, revision) in
 *       revision order, starting at from_rev (0 = only what comes after now).
 *       Delivery is pull-based: watch_fd() is a file descriptor to put in the
 *       caller's event loop; when it polls readable, call watch_next() until it
 *       returns 0. No thread ever calls into caller code. A watch whose position
 *       was compacted away fails with TANK_STORE_ECOMPACTED: list, then watch
 *       again from list's revision + 1.
 *   lease_grant(ttl_s) / lease_keepalive(id) / lease_revoke(id): keys put with a
 *       lease are deleted (with delete events) when it expires or is revoked.
 *   compact(rev): forget history at and below rev.
 *
 * Errors: every call returns < 0 and sets a tank_error whose errnum tells the
 * caller what happened:
 *   TANK_STORE_ENOTFOUND    (ENOENT)    the key (or lease) does not exist
 *   TANK_STORE_ECONFLICT    (ECANCELED) expect_rev did not match; nothing written
 *   TANK_STORE_EUNAVAILABLE (ENOTCONN)  the backend could not answer within the
 *                                       timeout; the message carries its reason
 *   TANK_STORE_ECOMPACTED   (ERANGE)    a watch start revision is compacted
 *   EINVAL, E2BIG                       bad argument, key or value too large
 * Every call is bounded by the store's timeout (timeout_ms, default 5000): an
 * unreachable or locked store is an error in bounded time, never a hang.
 *
 * URLs: sqlite:PATH[?sync=full|normal&history=N&timeout_ms=N]
 *       etcd://HOST:PORT[,HOST:PORT...][?timeout_ms=N]
 *
 * SQLite durability: WAL with synchronous=FULL by default: a put is
 * acknowledged only after its commit is fsynced, so it survives a process
 * SIGKILL *and* a power cut, as etcd's acknowledged writes do. The desired state
 * is what a user asked for; losing the last second of it on a power cut would
 * silently undo a `tank apply`. `sync=normal` (WAL without fsync per commit)
 * keeps every acknowledged write across a process crash but not a power cut, at
 * several times the write rate (see bench/store). Watches across processes: a
 * writer touches the WAL file after each commit; watchers wait on an inotify of
 * the database's directory, so a write in one process wakes the others at once. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#include "util/error.h"

#define TANK_STORE_ENOTFOUND    ENOENT
#define TANK_STORE_ECONFLICT    ECANCELED
#define TANK_STORE_EUNAVAILABLE ENOTCONN
#define TANK_STORE_ECOMPACTED   ERANGE

#define TANK_STORE_REV_ANY    0
#define TANK_STORE_REV_ABSENT (-1)

#define TANK_STORE_KEY_MAX   1024
#define TANK_STORE_VALUE_MAX (1024 * 1024)

#define TANK_STORE_DEFAULT_URL        "sqlite:/var/lib/tank/state.db"
#define TANK_STORE_DEFAULT_TIMEOUT_MS 5000

struct tank_store_kv {
  char *key;
  uint8_t *value; /* NUL-terminated for convenience; value_len excludes the NUL */
  size_t value_len;
  int64_t create_rev;
  int64_t mod_rev;
  int64_t lease; /* 0: none */
};

struct tank_store_list {
  struct tank_store_kv *items;
  size_t n_items;
  int64_t rev; /* the store revision the list was read at */
};

enum tank_store_event_type {
  TANK_STORE_EVENT_PUT,
  TANK_STORE_EVENT_DELETE,
};

struct tank_store_event {
  enum tank_store_event_type type;
  char *key;
  uint8_t *value; /* NULL for a delete */
  size_t value_len;
  int64_t rev; /* the revision of this write */
};

typedef struct tank_store tank_store;
typedef struct tank_store_watch tank_store_watch;

struct tank_store_ops {
  const char *name;
  int (*put)(tank_store *s, const char *key, const void *value, size_t value_len,
             int64_t expect_rev, int64_t lease, int64_t *ret_rev, tank_error **err);
  int (*get)(tank_store *s, const char *key, struct tank_store_kv *ret_kv, tank_error **err);
  int (*del)(tank_store *s, const char *key, int64_t expect_rev, int64_t *ret_rev,
             tank_error **err);
  int (*list)(tank_store *s, const char *prefix, struct tank_store_list *ret_list,
              tank_error **err);
  int (*watch)(tank_store *s, const char *prefix, int64_t from_rev, tank_store_watch **ret_watch,
               tank_error **err);
  int (*watch_fd)(tank_store_watch *w);
  /* 1 and *ret_event filled, 0 when nothing is pending, < 0 on error. */
  int (*watch_next)(tank_store_watch *w, struct tank_store_event *ret_event, tank_error **err);
  void (*watch_free)(tank_store_watch *w);
  int (*lease_grant)(tank_store *s, int64_t ttl_s, int64_t *ret_lease, tank_error **err);
  int (*lease_keepalive)(tank_store *s, int64_t lease, int64_t *ret_ttl_s, tank_error **err);
  int (*lease_revoke)(tank_store *s, int64_t lease, tank_error **err);
  int (*compact)(tank_store *s, int64_t rev, tank_error **err);
  void (*close)(tank_store *s);
};

/* Every backend's handle starts with this. */
struct tank_store {
  const struct tank_store_ops *ops;
};
struct tank_store_watch {
  const struct tank_store_ops *ops;
};

/* A parsed store URL (url.c). */
enum tank_store_backend {
  TANK_STORE_SQLITE,
  TANK_STORE_ETCD,
};

#define TANK_STORE_MAX_ENDPOINTS 16

struct tank_store_url {
  enum tank_store_backend backend;
  char *path;       /* sqlite: the database file */
  char **endpoints; /* etcd: "http://host:port", n_endpoints of them */
  size_t n_endpoints;
  int timeout_ms;  /* per call, default TANK_STORE_DEFAULT_TIMEOUT_MS */
  int sync_full;   /* sqlite: 1 = synchronous=FULL (default), 0 = NORMAL */
  int64_t history; /* sqlite: revisions of history kept for watches (default 10000) */
};

int tank_store_url_parse(const char *url, struct tank_store_url *ret_url, tank_error **err);
void tank_store_url_clear(struct tank_store_url *url);

/* Opens the store a URL names. */
int tank_store_open(const char *url, tank_store **ret_store, tank_error **err);
int tank_store_open_url(const struct tank_store_url *url, tank_store **ret_store, tank_error **err);

/* Backends (sqlite.c, etcd.c). */
int tank_store_sqlite_open(const struct tank_store_url *url, tank_store **ret_store,
                           tank_error **err);
int tank_store_etcd_open(const struct tank_store_url *url, tank_store **ret_store,
                         tank_error **err);

/* Calls through the seam. */
int tank_store_put(tank_store *s, const char *key, const void *value, size_t value_len,
                   int64_t expect_rev, int64_t *ret_rev, tank_error **err);
int tank_store_put_lease(tank_store *s, const char *key, const void *value, size_t value_len,
                         int64_t expect_rev, int64_t lease, int64_t *ret_rev, tank_error **err);
int tank_store_get(tank_store *s, const char *key, struct tank_store_kv *ret_kv, tank_error **err);
int tank_store_delete(tank_store *s, const char *key, int64_t expect_rev, int64_t *ret_rev,
                      tank_error **err);
int tank_store_list(tank_store *s, const char *prefix, struct tank_store_list *ret_list,
                    tank_error **err);
int tank_store_watch_open(tank_store *s, const char *prefix, int64_t from_rev,
                          tank_store_watch **ret_watch, tank_error **err);
int tank_store_watch_fd(tank_store_watch *w);
int tank_store_watch_next(tank_store_watch *w, struct tank_store_event *ret_event,
                          tank_error **err);
tank_store_watch *tank_store_watch_free(tank_store_watch *w);
int tank_store_lease_grant(tank_store *s, int64_t ttl_s, int64_t *ret_lease, tank_error **err);
int tank_store_lease_keepalive(tank_store *s, int64_t lease, int64_t *ret_ttl_s, tank_error **err);
int tank_store_lease_revoke(tank_store *s, int64_t lease, tank_error **err);
int tank_store_compact(tank_store *s, int64_t rev, tank_error **err);
tank_store *tank_store_close(tank_store *s);

void tank_store_kv_clear(struct tank_store_kv *kv);
void tank_store_list_clear(struct tank_store_list *list);
void tank_store_event_clear(struct tank_store_event *ev);

/* Shared argument checks (key length and characters, value size). */
int tank_store_check_key(const char *key, tank_error **err);
int tank_store_check_put(const char *key, size_t value_len, int64_t expect_rev, tank_error **err);
