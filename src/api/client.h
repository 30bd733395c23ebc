/* The CLI's side of the API: HTTP/1.1 over tankd's unix socket, spoken by hand
 * (client.c says why not libcurl). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

struct api_client {
  char *socket_path;
  long timeout_ms; /* per request; 0: none (streams) */
};

/* Sends a request; on any HTTP reply fills *ret_status and *ret_json (the parsed
 * body, or NULL when it is not JSON). Fails only when tankd cannot be reached
 * or the reply is malformed, with a message that says which socket was tried. */
int api_request(const struct api_client *c, const char *method, const char *path, const char *body,
                size_t body_len, long *ret_status, json_t **ret_json, tank_error **err);

/* GETs a stream and calls on_line for every line until the server ends it or
 * on_line returns non-zero. */
int api_stream(const struct api_client *c, const char *path,
               int (*on_line)(const char *line, size_t len, void *userdata), void *userdata,
               long *ret_status, tank_error **err);

/* GETs path and hands the body to on_data as it arrives, with the reply's
 * status (known by then), until the server ends it or on_data returns non-zero. */
int api_stream_raw(const struct api_client *c, const char *path,
                   int (*on_data)(long status, const char *data, size_t len, void *userdata),
                   void *userdata, long *ret_status, tank_error **err);

/* The message of an error reply {"error": ..., "details": [...]} as lines. */
void api_print_error(json_t *reply, long status);

/* POSTs body to path asking to upgrade the connection to `protocol`. On 101 *ret_fd is the
 * connection and *ret_extra holds the bytes of the stream already read with the reply (free it); on
 * any other reply *ret_fd is -1 and *ret_json the parsed error body (or NULL). */
int api_upgrade(const struct api_client *c, const char *path, const char *body, size_t body_len,
                const char *protocol, int *ret_fd, unsigned char **ret_extra, size_t *ret_n_extra,
                long *ret_status, json_t **ret_json, tank_error **err);
