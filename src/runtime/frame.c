/* Encoding and incremental decoding of session frames (frame.h). The decoder
 * reads bytes a client controls: every length is checked before it is used. */
#include "runtime/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t
get_u32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put_u32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

ssize_t
frame_parse(const void *buf, size_t len, struct frame *ret)
{
  const uint8_t *p = buf;
  if (len < FRAME_HEADER_SIZE)
    return 0;
  uint8_t type = p[0];
  uint32_t n = get_u32(p + 1);
  if (type >= FRAME_TYPE_COUNT || n > FRAME_MAX_PAYLOAD)
    return -EPROTO;
  switch (type) {
    case FRAME_STDIN_EOF:
      if (n != 0)
        return -EPROTO;
      break;
    case FRAME_RESIZE:
      if (n != 4)
        return -EPROTO;
      break;
    case FRAME_EXIT:
      if (n != 8)
        return -EPROTO;
      break;
    case FRAME_ERROR:
      if (n > FRAME_MAX_ERROR)
        return -EPROTO;
      break;
    default:
      break;
  }
  if (len - FRAME_HEADER_SIZE < n)
    return 0;
  *ret = (struct frame){ (enum frame_type)type, n, p + FRAME_HEADER_SIZE };
  return (ssize_t)(FRAME_HEADER_SIZE + n);
}

void
frame_header(enum frame_type type, uint32_t len, uint8_t out[static FRAME_HEADER_SIZE])
{
  out[0] = (uint8_t)type;
  put_u32(out + 1, len);
}

void
frame_resize_encode(uint16_t rows, uint16_t cols, uint8_t out[static 4])
{
  out[0] = (uint8_t)(rows >> 8);
  out[1] = (uint8_t)rows;
  out[2] = (uint8_t)(cols >> 8);
  out[3] = (uint8_t)cols;
}

void
frame_resize_decode(const struct frame *f, uint16_t *rows, uint16_t *cols)
{
  *rows = (uint16_t)(f->data[0] << 8 | f->data[1]);
  *cols = (uint16_t)(f->data[2] << 8 | f->data[3]);
}

void
frame_exit_encode(int32_t code, int32_t signal, uint8_t out[static 8])
{
  put_u32(out, (uint32_t)code);
  put_u32(out + 4, (uint32_t)signal);
}

void
frame_exit_decode(const struct frame *f, int32_t *code, int32_t *signal)
{
  *code = (int32_t)get_u32(f->data);
  *signal = (int32_t)get_u32(f->data + 4);
}

void
frame_buf_append(struct frame_buf *b, const void *data, size_t len)
{
  if (len == 0)
    return;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len)
      cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL)
      abort();
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

void
frame_buf_put(struct frame_buf *b, enum frame_type type, const void *data, size_t len)
{
  uint8_t h[FRAME_HEADER_SIZE];
  frame_header(type, (uint32_t)len, h);
  frame_buf_append(b, h, sizeof h);
  frame_buf_append(b, data, len);
}

void
frame_buf_consume(struct frame_buf *b, size_t n)
{
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void
frame_buf_clear(struct frame_buf *b)
{
  free(b->data);
  *b = (struct frame_buf){ 0 };
}

int
frame_buf_flush(struct frame_buf *b, int fd)
{
  size_t off = 0;
  int r = 0;
  while (off < b->len) {
    ssize_t w = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == ENOTSOCK)
      w = write(fd, b->data + off, b->len - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        r = -errno;
      break;
    }
    off += (size_t)w;
  }
  frame_buf_consume(b, off);
  return r;
}
