/* The framing of an exec or attach session (docs/exec.md): every message is a
 * 5-byte header (type, big-endian payload length) and a payload, so stdin,
 * stdout, stderr, window sizes, stdin EOF and the exit status share one byte
 * stream: the upgraded HTTP connection, or a tty container's attach socket. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_HEADER_SIZE 5
#define FRAME_MAX_PAYLOAD (64 * 1024)
#define FRAME_MAX_ERROR   4096

enum frame_type {
  FRAME_STDIN = 0,     /* client -> process: bytes for its stdin (or the PTY) */
  FRAME_STDOUT = 1,    /* process -> client: stdout (all output in tty mode) */
  FRAME_STDERR = 2,    /* process -> client: stderr */
  FRAME_STDIN_EOF = 3, /* client -> process: no more stdin (empty) */
  FRAME_RESIZE = 4,    /* client -> process: rows, cols (2 x u16, big-endian) */
  FRAME_EXIT = 5,      /* process -> client, last: exit code, signal (2 x i32, big-endian) */
  FRAME_ERROR = 6,     /* process -> client, before EXIT: why the session failed (text) */
  FRAME_TYPE_COUNT,
};

struct frame {
  enum frame_type type;
  uint32_t len;
  const uint8_t *data; /* points into the buffer that was parsed */
};

/* Parses the frame at the start of buf. Returns its whole size (header +
 * payload) when complete, 0 when more bytes are needed, -EPROTO when the bytes
 * cannot be a frame (unknown type, payload too long, a fixed-size payload of
 * the wrong size). */
ssize_t frame_parse(const void *buf, size_t len, struct frame *ret);

/* Writes the header of a frame into out. */
void frame_header(enum frame_type type, uint32_t len, uint8_t out[static FRAME_HEADER_SIZE]);

/* Payloads of the fixed-size frames. */
void frame_resize_encode(uint16_t rows, uint16_t cols, uint8_t out[static 4]);
void frame_resize_decode(const struct frame *f, uint16_t *rows, uint16_t *cols);
void frame_exit_encode(int32_t code, int32_t signal, uint8_t out[static 8]);
void frame_exit_decode(const struct frame *f, int32_t *code, int32_t *signal);

/* A growable byte queue: what is waiting to be written to one fd. */
struct frame_buf {
  uint8_t *data;
  size_t len, cap;
};

/* Appends bytes; aborts on allocation failure (callers bound the queue length). */
void frame_buf_append(struct frame_buf *b, const void *data, size_t len);
/* Appends a whole frame (header + payload). */
void frame_buf_put(struct frame_buf *b, enum frame_type type, const void *data, size_t len);
/* Drops the first n bytes. */
void frame_buf_consume(struct frame_buf *b, size_t n);
void frame_buf_clear(struct frame_buf *b);
/* Writes as much as fd takes; returns 0, or a negative errno other than EAGAIN. */
int frame_buf_flush(struct frame_buf *b, int fd);
