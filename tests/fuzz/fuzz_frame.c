/* libFuzzer target: the session frame decoder, fed as a peer would feed it
 * (in arbitrary pieces), and the exec request parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/exec.h"
#include "runtime/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* The first byte picks the size of the pieces the stream arrives in. */
  size_t piece = size ? (size_t)data[0] % 64 + 1 : 1;
  struct frame_buf in = { 0 };
  for (size_t off = size ? 1 : 0; off < size; off += piece) {
    size_t n = size - off < piece ? size - off : piece;
    frame_buf_append(&in, data + off, n);
    size_t used = 0;
    for (;;) {
      struct frame f;
      ssize_t k = frame_parse(in.data + used, in.len - used, &f);
      if (k < 0)
        goto done;
      if (k == 0)
        break;
      if ((size_t)k != FRAME_HEADER_SIZE + f.len || f.len > FRAME_MAX_PAYLOAD)
        abort();
      if (f.type == FRAME_RESIZE) {
        uint16_t r, c;
        frame_resize_decode(&f, &r, &c);
      } else if (f.type == FRAME_EXIT) {
        int32_t code, sig;
        frame_exit_decode(&f, &code, &sig);
      }
      used += (size_t)k;
    }
    frame_buf_consume(&in, used);
  }
done:
  frame_buf_clear(&in);

  struct exec_request req;
  tank_error *err = NULL;
  if (exec_request_parse((const char *)data, size, &req, &err) == 0) {
    if (req.argc == 0 || req.argv[req.argc] != NULL)
      abort();
    exec_request_clear(&req);
  }
  tank_error_free(err);
  return 0;
}
