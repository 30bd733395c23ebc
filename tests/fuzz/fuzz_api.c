/* Fuzzes tankd's request handlers (routes_handle) with a real embedded store:
 * the input is "METHOD PATH[?QUERY]\n" followed by the body. Streams (events,
 * logs) and upgraded connections need a live server and are left to the e2e tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

static struct tankd d;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  static char dir[] = "/tmp/tank-fuzz-api.XXXXXX";
  if (mkdtemp(dir) == NULL)
    abort();
  static char store[128];
  snprintf(store, sizeof store, "sqlite:%s/state.db", dir);
  d.cfg.node = (char *)"fuzz";
  d.cfg.store = store;
  d.cfg.data_dir = dir;
  d.cfg.run_dir = dir;
  tank_error *err = NULL;
  if (tank_store_open(store, &d.store, &err) < 0) {
    fprintf(stderr, "fuzz_api: %s\n", err->msg);
    abort();
  }
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > TANKD_MAX_BODY + 1024)
    return 0;
  char *buf = malloc(size + 1);
  memcpy(buf, data, size);
  buf[size] = '\0';
  char *nl = memchr(buf, '\n', size);
  char *body = nl ? nl + 1 : buf + size;
  if (nl)
    *nl = '\0';
  char *sp = strchr(buf, ' ');
  if (sp == NULL || strlen(buf) != (size_t)(nl ? nl - buf : (long)size)) {
    free(buf);
    return 0;
  }
  *sp = '\0';
  char *path = sp + 1;
  char *query = strchr(path, '?');
  if (query)
    *query++ = '\0';
  if (strstr(path, "events") || strstr(path, "logs") || strstr(path, "exec")
      || strstr(path, "attach")) {
    free(buf);
    return 0;
  }
  struct http_request req = { buf, path, body, size - (size_t)(body - buf), NULL, query };
  struct http_reply reply = { 0 };
  routes_handle(&d, &req, &reply);
  if (reply.status == 0 && reply.json == NULL && reply.text == NULL)
    abort(); /* every request gets an answer */
  json_decref(reply.json);
  free(reply.text);
  free(buf);
  return 0;
}
