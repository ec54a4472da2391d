/* Differential tests: each program in tests/diff/ is compiled twice, once
 * against Debian's libnbd and once against ours, and both runs must print
 * the same trace. A trace line shows a call with its return value and,
 * on failure, the errno by name; callbacks and frees print their own
 * lines, so their order is compared too. Error messages differ between
 * the libraries and are not printed.
 */
#ifndef NBD_DIFF_TRACE_H
#define NBD_DIFF_TRACE_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libnbd.h>

static const char *
errno_name (int e)
{
  switch (e) {
  case 0: return "0";
  case EINVAL: return "EINVAL";
  case ENOTCONN: return "ENOTCONN";
  case EFAULT: return "EFAULT";
  case ENOTSUP: return "ENOTSUP";
  case EIO: return "EIO";
  case EPROTO: return "EPROTO";
  case ENOENT: return "ENOENT";
  case EPERM: return "EPERM";
  case ERANGE: return "ERANGE";
  case ENOSPC: return "ENOSPC";
  case EOVERFLOW: return "EOVERFLOW";
  case ESHUTDOWN: return "ESHUTDOWN";
  case EBADMSG: return "EBADMSG";
  default: {
    static char buf[32];
    snprintf (buf, sizeof buf, "errno %d", e);
    return buf;
  }
  }
}

static void
trace_result (const char *what, int64_t r)
{
  if (r == -1)
    printf ("%s = -1 (%s)\n", what, errno_name (nbd_get_errno ()));
  else
    printf ("%s = %" PRId64 "\n", what, r);
  fflush (stdout);
}

/* A call returning int or int64_t. */
#define T(call) trace_result (#call, (int64_t) (call))

/* A call returning a cookie: only whether it is one is compared. */
#define T_COOKIE(var, call)                                             \
  do {                                                                  \
    (var) = (call);                                                     \
    if ((var) == -1)                                                    \
      printf ("%s = -1 (%s)\n", #call, errno_name (nbd_get_errno ()));  \
    else                                                                \
      printf ("%s = cookie\n", #call);                                  \
    fflush (stdout);                                                    \
  } while (0)

/* A free-form line. */
#define SAY(...) do { printf (__VA_ARGS__); printf ("\n"); fflush (stdout); } while (0)

static void
on_alarm (int sig)
{
  (void) sig;
  static const char msg[] = "timed out\n";
  if (write (2, msg, sizeof msg - 1)) {}
  _exit (124);
}

/* Bound the program in time. */
static inline void
start (unsigned seconds)
{
  signal (SIGALRM, on_alarm);
  alarm (seconds);
}

/* Whether all len bytes of buf are c. */
static inline int
all_bytes (const void *buf, size_t len, int c)
{
  const unsigned char *p = buf;
  size_t i;
  for (i = 0; i < len; i++)
    if (p[i] != (unsigned char) c)
      return 0;
  return 1;
}

#endif /* NBD_DIFF_TRACE_H */
