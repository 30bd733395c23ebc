/* Quantities of the pod spec: memory sizes, cpu cores, durations, signals,
 * IP addresses and DNS labels. Pure functions, no allocation on failure. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

/* Parses a run of decimal digits with an optional fraction into an integer
 * scaled by 10^scale_digits (so "1.5" with scale 3 is 1500). Returns the
 * number of bytes consumed, 0 when there are no digits or on overflow. */
static size_t
parse_decimal(const char *s, unsigned scale_digits, uint64_t *ret, bool *ret_inexact)
{
  uint64_t v = 0;
  size_t i = 0, digits = 0;
  bool inexact = false;
  for (; isdigit((unsigned char)s[i]); i++, digits++) {
    if (v > (UINT64_MAX - 9) / 10)
      return 0;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  unsigned frac = 0;
  if (s[i] == '.') {
    i++;
    for (; isdigit((unsigned char)s[i]); i++, digits++) {
      if (frac < scale_digits) {
        if (v > (UINT64_MAX - 9) / 10)
          return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        frac++;
      } else if (s[i] != '0') {
        inexact = true;
      }
    }
  }
  if (digits == 0)
    return 0;
  for (; frac < scale_digits; frac++) {
    if (v > UINT64_MAX / 10)
      return 0;
    v *= 10;
  }
  *ret = v;
  *ret_inexact = inexact;
  return i;
}

int
spec_parse_memory(const char *s, uint64_t *ret_bytes, const char **ret_reason)
{
  static const struct {
    const char *suffix;
    uint64_t factor;
  } units[] = {
    { "", 1 },
    { "K", 1000ULL },
    { "M", 1000ULL * 1000 },
    { "G", 1000ULL * 1000 * 1000 },
    { "T", 1000ULL * 1000 * 1000 * 1000 },
    { "Ki", 1ULL << 10 },
    { "Mi", 1ULL << 20 },
    { "Gi", 1ULL << 30 },
    { "Ti", 1ULL << 40 },
  };
  uint64_t milli;
  bool inexact;
  size_t n = parse_decimal(s, 3, &milli, &inexact);
  if (n == 0) {
    *ret_reason = "a memory size is a number of bytes with an optional suffix Ki, Mi, Gi, Ti, K, "
                  "M, G or T (e.g. 512Mi)";
    return -EINVAL;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(s + n, units[i].suffix) != 0)
      continue;
    /* bytes = milli * factor / 1000: 64 x 41 bits fit in 128 */
    uint64_t f = units[i].factor;
    __uint128_t bytes_x1000 = (__uint128_t)milli * f;
    if (bytes_x1000 % 1000 != 0 || inexact) {
      *ret_reason = "memory size is not a whole number of bytes";
      return -EINVAL;
    }
    __uint128_t bytes = bytes_x1000 / 1000;
    if (bytes > INT64_MAX) {
      *ret_reason = "memory size is too large";
      return -ERANGE;
    }
    if (bytes == 0) {
      *ret_reason = "memory limit must be positive";
      return -EINVAL;
    }
    *ret_bytes = (uint64_t)bytes;
    return 0;
  }
  *ret_reason = "unknown memory suffix (use Ki, Mi, Gi, Ti, K, M, G or T)";
  return -EINVAL;
}

int
spec_parse_cpu_cores(const char *s, uint64_t *ret_millicores, const char **ret_reason)
{
  uint64_t v;
  bool inexact;
  size_t n = parse_decimal(s, 3, &v, &inexact);
  if (n > 0 && s[n] == 'm' && s[n + 1] == '\0') {
    /* "500m": parse again as whole millicores */
    n = parse_decimal(s, 0, &v, &inexact);
    if (n == 0 || s[n] != 'm' || inexact) {
      *ret_reason = "millicores must be a whole number (e.g. 500m)";
      return -EINVAL;
    }
  } else if (n == 0 || s[n] != '\0') {
    *ret_reason = "cpu is a number of cores (1.5), millicores (500m) or {quota_us, period_us}";
    return -EINVAL;
  } else if (inexact) {
    *ret_reason = "cpu has more precision than a millicore";
    return -EINVAL;
  }
  if (v == 0) {
    *ret_reason = "cpu limit must be positive";
    return -EINVAL;
  }
  if (v > 1000000) {
    *ret_reason = "cpu limit is larger than 1000 cores";
    return -ERANGE;
  }
  *ret_millicores = v;
  return 0;
}

int
spec_parse_duration(const char *s, uint64_t *ret_ms, const char **ret_reason)
{
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = { { "ms", 1 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
  const char *why = "a duration is a number with a unit: 500ms, 10s, 1m30s, 2h";
  uint64_t total = 0;
  const char *p = s;
  if (*p == '\0') {
    *ret_reason = why;
    return -EINVAL;
  }
  while (*p) {
    uint64_t v;
    bool inexact;
    size_t n = parse_decimal(p, 3, &v, &inexact); /* v in thousandths of the unit */
    if (n == 0) {
      *ret_reason = why;
      return -EINVAL;
    }
    p += n;
    size_t u;
    for (u = 0; u < sizeof units / sizeof units[0]; u++)
      if (strncmp(p, units[u].unit, strlen(units[u].unit)) == 0)
        break;
    if (u == sizeof units / sizeof units[0]) {
      *ret_reason = why;
      return -EINVAL;
    }
    p += strlen(units[u].unit);
    __uint128_t ms_x1000 = (__uint128_t)v * units[u].ms;
    if (ms_x1000 % 1000 != 0 || inexact) {
      *ret_reason = "durations are counted in whole milliseconds";
      return -EINVAL;
    }
    __uint128_t sum = (__uint128_t)total + ms_x1000 / 1000;
    if (sum > (__uint128_t)100 * 365 * 24 * 3600 * 1000) {
      *ret_reason = "duration is longer than 100 years";
      return -ERANGE;
    }
    total = (uint64_t)sum;
  }
  *ret_ms = total;
  return 0;
}

char *
spec_format_duration(uint64_t ms)
{
  char *s = NULL;
  int r = ms % 1000 == 0 ? asprintf(&s, "%llus", (unsigned long long)(ms / 1000))
                         : asprintf(&s, "%llums", (unsigned long long)ms);
  return r < 0 ? NULL : s;
}

static const char *const signal_names[] = {
  [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
  [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
  [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
  [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
  [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
  [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
  [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
  [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU",
  [SIGXFSZ] = "SIGXFSZ",     [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
  [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",
  [SIGSYS] = "SIGSYS",
};

const char *
spec_signal_name(int signo)
{
  if (signo <= 0 || (size_t)signo >= sizeof signal_names / sizeof signal_names[0])
    return NULL;
  return signal_names[signo];
}

int
spec_parse_signal(const char *s, int *ret_signo, const char **ret_reason)
{
  if (isdigit((unsigned char)s[0])) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end == '\0' && errno == 0 && v >= 1 && v <= 64) {
      *ret_signo = (int)v;
      return 0;
    }
    *ret_reason = "signal numbers run from 1 to 64";
    return -EINVAL;
  }
  const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (size_t i = 1; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (signal_names[i] && strcmp(signal_names[i] + 3, name) == 0) {
      *ret_signo = (int)i;
      return 0;
    }
  *ret_reason = "unknown signal (use a name such as SIGTERM or TERM, or a number)";
  return -EINVAL;
}

bool
spec_is_dns_label(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 63)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i < n - 1))
      return false;
  }
  return true;
}

int
spec_parse_ip(const char *s, bool with_prefix, struct spec_ip *ret, const char **ret_reason)
{
  char buf[INET6_ADDRSTRLEN + 8];
  if (strlen(s) >= sizeof buf) {
    *ret_reason = "not an IPv4 or IPv6 address";
    return -EINVAL;
  }
  strcpy(buf, s);
  char *slash = strchr(buf, '/');
  if (slash && !with_prefix) {
    *ret_reason = "an address here takes no /prefix";
    return -EINVAL;
  }
  if (!slash && with_prefix) {
    *ret_reason = "address needs a prefix length (e.g. 10.0.0.5/24 or fd00::5/64)";
    return -EINVAL;
  }
  if (slash)
    *slash = '\0';
  struct spec_ip ip = { 0 };
  if (inet_pton(AF_INET, buf, ip.addr) == 1) {
    ip.family = AF_INET;
    ip.prefix = 32;
  } else if (inet_pton(AF_INET6, buf, ip.addr) == 1) {
    ip.family = AF_INET6;
    ip.prefix = 128;
  } else {
    *ret_reason = "not an IPv4 or IPv6 address";
    return -EINVAL;
  }
  if (slash) {
    const char *p = slash + 1;
    unsigned max = ip.prefix, v = 0;
    if (*p == '\0') {
      *ret_reason = "empty prefix length";
      return -EINVAL;
    }
    for (; *p; p++) {
      if (!isdigit((unsigned char)*p) || v > 1000) {
        *ret_reason = "prefix length is not a number";
        return -EINVAL;
      }
      v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > max || v == 0) {
      *ret_reason = ip.family == AF_INET ? "IPv4 prefix length must be 1-32"
                                         : "IPv6 prefix length must be 1-128";
      return -EINVAL;
    }
    ip.prefix = v;
  }
  *ret = ip;
  return 0;
}

char *
spec_format_ip(const struct spec_ip *ip, bool with_prefix)
{
  char addr[INET6_ADDRSTRLEN];
  if (inet_ntop(ip->family, ip->addr, addr, sizeof addr) == NULL)
    return NULL;
  char *s = NULL;
  int r = with_prefix ? asprintf(&s, "%s/%u", addr, ip->prefix) : asprintf(&s, "%s", addr);
  return r < 0 ? NULL : s;
}

bool
spec_ip_in_subnet(const struct spec_ip *addr, const struct spec_ip *subnet)
{
  if (addr->family != subnet->family)
    return false;
  unsigned bits = subnet->prefix;
  for (unsigned i = 0; i < bits / 8; i++)
    if (addr->addr[i] != subnet->addr[i])
      return false;
  if (bits % 8) {
    uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
    if ((addr->addr[bits / 8] & mask) != (subnet->addr[bits / 8] & mask))
      return false;
  }
  return true;
}

const char *
spec_restart_name(enum spec_restart r)
{
  static const char *const names[] = { "always", "on-failure", "never" };
  return names[r];
}

const char *
spec_macvlan_mode_name(enum spec_macvlan_mode m)
{
  static const char *const names[] = { "bridge", "private", "vepa", "passthru" };
  return names[m];
}
