/* The store seam's front: open by URL, calls through the backend's function
 * pointers, argument checks shared by both backends, and the result destructors. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int
tank_store_open_url(const struct tank_store_url *url, tank_store **ret_store, tank_error **err)
{
  switch (url->backend) {
    case TANK_STORE_SQLITE:
      return tank_store_sqlite_open(url, ret_store, err);
    case TANK_STORE_ETCD:
      return tank_store_etcd_open(url, ret_store, err);
  }
  return tank_error_set(err, EINVAL, "unknown store backend %d", (int)url->backend);
}

int
tank_store_open(const char *url, tank_store **ret_store, tank_error **err)
{
  struct tank_store_url u;
  int r = tank_store_url_parse(url, &u, err);
  if (r < 0)
    return r;
  r = tank_store_open_url(&u, ret_store, err);
  tank_store_url_clear(&u);
  return r;
}

int
tank_store_check_key(const char *key, tank_error **err)
{
  if (key == NULL || key[0] == '\0')
    return tank_error_set(err, EINVAL, "empty key");
  if (strnlen(key, TANK_STORE_KEY_MAX + 1) > TANK_STORE_KEY_MAX)
    return tank_error_set(err, E2BIG, "key `%.64s...` is longer than %d bytes", key,
                          TANK_STORE_KEY_MAX);
  return 0;
}

int
tank_store_check_put(const char *key, size_t value_len, int64_t expect_rev, tank_error **err)
{
  int r = tank_store_check_key(key, err);
  if (r < 0)
    return r;
  if (value_len > TANK_STORE_VALUE_MAX)
    return tank_error_set(err, E2BIG, "put `%s`: value of %zu bytes is larger than %d", key,
                          value_len, TANK_STORE_VALUE_MAX);
  if (expect_rev < TANK_STORE_REV_ABSENT)
    return tank_error_set(err, EINVAL, "put `%s`: expected revision %lld is negative", key,
                          (long long)expect_rev);
  return 0;
}

int
tank_store_put(tank_store *s, const char *key, const void *value, size_t value_len,
               int64_t expect_rev, int64_t *ret_rev, tank_error **err)
{
  return s->ops->put(s, key, value, value_len, expect_rev, 0, ret_rev, err);
}

int
tank_store_put_lease(tank_store *s, const char *key, const void *value, size_t value_len,
                     int64_t expect_rev, int64_t lease, int64_t *ret_rev, tank_error **err)
{
  return s->ops->put(s, key, value, value_len, expect_rev, lease, ret_rev, err);
}

int
tank_store_get(tank_store *s, const char *key, struct tank_store_kv *ret_kv, tank_error **err)
{
  return s->ops->get(s, key, ret_kv, err);
}

int
tank_store_delete(tank_store *s, const char *key, int64_t expect_rev, int64_t *ret_rev,
                  tank_error **err)
{
  return s->ops->del(s, key, expect_rev, ret_rev, err);
}

int
tank_store_list(tank_store *s, const char *prefix, struct tank_store_list *ret_list,
                tank_error **err)
{
  return s->ops->list(s, prefix, ret_list, err);
}

int
tank_store_watch_open(tank_store *s, const char *prefix, int64_t from_rev,
                      tank_store_watch **ret_watch, tank_error **err)
{
  if (from_rev < 0)
    return tank_error_set(err, EINVAL, "watch `%s`: negative start revision", prefix);
  return s->ops->watch(s, prefix, from_rev, ret_watch, err);
}

int
tank_store_watch_fd(tank_store_watch *w)
{
  return w->ops->watch_fd(w);
}

int
tank_store_watch_next(tank_store_watch *w, struct tank_store_event *ret_event, tank_error **err)
{
  return w->ops->watch_next(w, ret_event, err);
}

tank_store_watch *
tank_store_watch_free(tank_store_watch *w)
{
  if (w)
    w->ops->watch_free(w);
  return NULL;
}

int
tank_store_lease_grant(tank_store *s, int64_t ttl_s, int64_t *ret_lease, tank_error **err)
{
  if (ttl_s <= 0 || ttl_s > 1000000)
    return tank_error_set(err, EINVAL, "lease TTL %lld s: want 1..1000000", (long long)ttl_s);
  return s->ops->lease_grant(s, ttl_s, ret_lease, err);
}

int
tank_store_lease_keepalive(tank_store *s, int64_t lease, int64_t *ret_ttl_s, tank_error **err)
{
  return s->ops->lease_keepalive(s, lease, ret_ttl_s, err);
}

int
tank_store_lease_revoke(tank_store *s, int64_t lease, tank_error **err)
{
  return s->ops->lease_revoke(s, lease, err);
}

int
tank_store_compact(tank_store *s, int64_t rev, tank_error **err)
{
  return s->ops->compact(s, rev, err);
}

tank_store *
tank_store_close(tank_store *s)
{
  if (s)
    s->ops->close(s);
  return NULL;
}

void
tank_store_kv_clear(struct tank_store_kv *kv)
{
  free(kv->key);
  free(kv->value);
  memset(kv, 0, sizeof *kv);
}

void
tank_store_list_clear(struct tank_store_list *list)
{
  for (size_t i = 0; i < list->n_items; i++)
    tank_store_kv_clear(&list->items[i]);
  free(list->items);
  memset(list, 0, sizeof *list);
}

void
tank_store_event_clear(struct tank_store_event *ev)
{
  free(ev->key);
  free(ev->value);
  memset(ev, 0, sizeof *ev);
}
