/* Device access rules of a container cgroup (Docker's defaults): mknod of
 * anything, open only of the standard /dev nodes, PTYs and tun. v1 writes
 * them to devices.allow; v2 has no file for it, so they become a small
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup. Without them
 * CAP_MKNOD would let a container make a node for a host disk and read it. */
#include "cgroup/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

struct device_rule {
  char type;        /* 'c' or 'b' */
  int major, minor; /* -1: any */
};

static const struct device_rule allowed[] = {
  { 'c', 1, 3 }, { 'c', 1, 5 }, { 'c', 1, 7 }, { 'c', 1, 8 },    { 'c', 1, 9 },
  { 'c', 5, 0 }, { 'c', 5, 1 }, { 'c', 5, 2 }, { 'c', 136, -1 }, { 'c', 10, 200 },
};

static int
write_rule(int fd, const char *rule, tank_error **err)
{
  size_t len = strlen(rule);
  ssize_t w = write(fd, rule, len);
  if (w < 0 || (size_t)w != len)
    return tank_error_set(err, w < 0 ? errno : EIO, "device rules: write `%s` to `devices.allow`",
                          rule);
  return 0;
}

int
cg_device_rules_v1(int dir_fd, tank_error **err)
{
  int r = cg_write(dir_fd, "devices.deny", "a", err);
  if (r < 0)
    return tank_error_wrap(err, "device rules");
  /* One open for all rules: each write(2) to devices.allow is one rule. */
  _cleanup_close_ int fd = openat(dir_fd, "devices.allow", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "device rules: open `devices.allow`");
  if ((r = write_rule(fd, "c *:* m", err)) < 0 || (r = write_rule(fd, "b *:* m", err)) < 0)
    return r;
  for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
    char rule[64];
    if (allowed[i].minor < 0)
      snprintf(rule, sizeof rule, "%c %d:* rwm", allowed[i].type, allowed[i].major);
    else
      snprintf(rule, sizeof rule, "%c %d:%d rwm", allowed[i].type, allowed[i].major,
               allowed[i].minor);
    if ((r = write_rule(fd, rule, err)) < 0)
      return r;
  }
  return 0;
}

#define INSN(c, d, s, o, i)                                                                        \
  ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o)   INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV_REG(d, s)    INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define AND_IMM(d, i)    INSN(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define RSH_IMM(d, i)    INSN(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, i)
#define MOV_IMM(d, i)    INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define EXIT()           INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx). */
static size_t
build_program(struct bpf_insn *p, size_t max)
{
  size_t n = 0;
  p[n++] = LDX_W(2, 1, 0);
  p[n++] = MOV_REG(3, 2);
  p[n++] = AND_IMM(2, 0xffff);
  p[n++] = RSH_IMM(3, 16);
  p[n++] = LDX_W(4, 1, 4);
  p[n++] = LDX_W(5, 1, 8);
  /* mknod only: allowed for any device */
  p[n++] = JNE_IMM(3, BPF_DEVCG_ACC_MKNOD, 2);
  p[n++] = MOV_IMM(0, 1);
  p[n++] = EXIT();
  for (size_t i = 0; i < ARRAY_SIZE(allowed) && n + 6 < max; i++) {
    const struct device_rule *r = &allowed[i];
    int type = r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
    int skip = r->minor < 0 ? 3 : 4; /* instructions after the first jump */
    p[n++] = JNE_IMM(2, type, (short)skip);
    p[n++] = JNE_IMM(4, r->major, (short)(skip - 1));
    if (r->minor >= 0)
      p[n++] = JNE_IMM(5, r->minor, 2);
    p[n++] = MOV_IMM(0, 1);
    p[n++] = EXIT();
  }
  p[n++] = MOV_IMM(0, 0);
  p[n++] = EXIT();
  return n;
}

int
cg_device_rules_bpf(int cgroup_fd, tank_error **err)
{
  struct bpf_insn prog[128];
  size_t n = build_program(prog, ARRAY_SIZE(prog) - 2);
  char log[4096] = "";
  union bpf_attr load = { 0 };
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)prog;
  load.insn_cnt = (uint32_t)n;
  load.license = (uint64_t)(uintptr_t) "GPL";
  load.log_buf = (uint64_t)(uintptr_t)log;
  load.log_size = sizeof log;
  load.log_level = 1;
  int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (fd < 0)
    return tank_error_set(err, errno, "load the device rules BPF program%s%.200s",
                          log[0] ? ": " : "", log);
  union bpf_attr attach = { 0 };
  attach.target_fd = (uint32_t)cgroup_fd;
  attach.attach_bpf_fd = (uint32_t)fd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
  int saved = errno;
  close(fd); /* the attachment keeps the program alive with the cgroup */
  if (r < 0)
    return tank_error_set(err, saved, "attach the device rules BPF program");
  return 0;
}
