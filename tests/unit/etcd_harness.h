/* Test and benchmark harness: etcd members started on loopback ports in a
 * temporary directory, stopped by PID, and small helpers to wait on watches. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

struct etcd_member {
  char name[32];
  char dir[256]; /* data and log live here */
  int client_port, peer_port;
  pid_t pid;
};

/* Fills n members named <prefix>0.. under base_dir with ports from first_port
 * (client, peer alternating). */
void etcd_members_init(struct etcd_member *m, size_t n, const char *base_dir, int first_port);

/* Starts member i of the n-member cluster m (a restart reuses its data dir). */
int etcd_member_start(struct etcd_member *m, size_t n, size_t i);

/* SIGKILLs (or SIGTERMs) the member and reaps it. */
void etcd_member_stop(struct etcd_member *m, int sig);

/* "etcd://127.0.0.1:P1,..." for the members, leader-first order when leader_first >= 0. */
void etcd_members_url(const struct etcd_member *m, size_t n, int first, const char *query,
                      char *buf, size_t size);

/* Waits (bounded) until a put through url succeeds. */
int etcd_wait_writable(const char *url, int timeout_ms);

/* The index of the leader among the members, or -1. */
int etcd_leader(const struct etcd_member *m, size_t n);

/* Removes a directory tree (test temp dirs). */
void rm_rf(const char *path);

int64_t harness_now_us(void);

/* Collects up to want events from w within timeout_ms, polling its fd.
 * Returns the number collected, < 0 on a watch error (err set). */
int watch_collect(tank_store_watch *w, struct tank_store_event *out, int want, int timeout_ms,
                  tank_error **err);
