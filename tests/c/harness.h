/* Shared helpers of the C tests: failing loudly, a watchdog, and servers
 * started by socket activation on a socket we create ourselves, so there
 * is no wait for readiness and no port race. Each server gets
 * PR_SET_PDEATHSIG, so it dies with the test even if the test crashes,
 * and stop_server() kills it by PID.
 */
#ifndef NBD_TEST_HARNESS_H
#define NBD_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <libnbd.h>

#define MAX_SERVERS 8

static const char *test_name = "test";
static char test_dir[] = "/tmp/nbd-ctest.XXXXXX";
static pid_t servers[MAX_SERVERS];
static size_t nr_servers;

static void cleanup (void);

/* Stop with a message and the library's last error. */
static void __attribute__((noreturn, format (printf, 1, 2)))
fail (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: FAIL: ", test_name);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, " (last error: %s, errno %d)\n",
           nbd_get_error () ? nbd_get_error () : "none", nbd_get_errno ());
  cleanup ();
  exit (EXIT_FAILURE);
}

#define CHECK(cond) \
  do { if (!(cond)) fail ("%s:%d: %s", __FILE__, __LINE__, #cond); } while (0)

/* A call that must succeed (returns -1 on error). */
#define OK(call) \
  do { if ((call) == -1) fail ("%s:%d: %s", __FILE__, __LINE__, #call); } while (0)

/* A call that must fail with this errno. */
#define FAILS_WITH(call, err) \
  do { \
    if ((call) != -1) fail ("%s:%d: %s succeeded", __FILE__, __LINE__, #call); \
    if (nbd_get_errno () != (err)) \
      fail ("%s:%d: %s: errno %d, expected %d (%s)", __FILE__, __LINE__, \
            #call, nbd_get_errno (), (err), #err); \
  } while (0)

static inline void
stop_server (pid_t pid)
{
  size_t i;

  for (i = 0; i < nr_servers; i++)
    if (servers[i] == pid) {
      kill (pid, SIGTERM);
      waitpid (pid, NULL, 0);
      servers[i] = servers[--nr_servers];
      return;
    }
}

static inline void
cleanup (void)
{
  char cmd[64 + sizeof test_dir];

  while (nr_servers > 0)
    stop_server (servers[0]);
  if (strchr (test_dir, 'X') == NULL) {
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    if (system (cmd) != 0)
      fprintf (stderr, "%s: cannot remove %s\n", test_name, test_dir);
  }
}

static inline void
on_alarm (int sig)
{
  (void) sig;
  static const char msg[] = "FAIL: timed out\n";
  if (write (2, msg, sizeof msg - 1)) {}
  _exit (124);
}

/* When the runner names the library under test (NBD_LIBDIR), check in
 * /proc/self/maps that it is the libnbd.so.0 this process mapped.
 */
static inline void
check_loaded_library (void)
{
  const char *dir = getenv ("NBD_LIBDIR");
  char want[PATH_MAX], line[PATH_MAX + 256];
  FILE *fp;
  int found = 0;

  if (dir == NULL)
    return;
  snprintf (want, sizeof want, "%s/libnbd.so.0", dir);
  fp = fopen ("/proc/self/maps", "r");
  if (fp == NULL)
    fail ("/proc/self/maps: %s", strerror (errno));
  while (fgets (line, sizeof line, fp) != NULL)
    if (strstr (line, want) != NULL)
      found = 1;
  fclose (fp);
  if (!found)
    fail ("%s is not the libnbd.so.0 this process loaded", want);
}

/* Every test calls this first: names it, bounds it in time, checks which
 * library it runs on, makes its private directory.
 */
static inline void
start_test (const char *name, unsigned seconds)
{
  test_name = name;
  signal (SIGALRM, on_alarm);
  alarm (seconds);
  check_loaded_library ();
  if (mkdtemp (test_dir) == NULL) {
    perror ("mkdtemp");
    exit (EXIT_FAILURE);
  }
}

static inline int
end_test (void)
{
  cleanup ();
  printf ("%s: ok\n", test_name);
  return EXIT_SUCCESS;
}

/* A path in the test's directory. The result is static storage per call
 * slot, so keep at most a few alive.
 */
static inline const char *
test_path (const char *leaf)
{
  static char bufs[4][PATH_MAX];
  static int next;
  char *p = bufs[next++ % 4];
  snprintf (p, PATH_MAX, "%s/%s", test_dir, leaf);
  return p;
}

/* Run argv with `fd` as its activation socket (LISTEN_FDS=1, fd 3). */
static inline pid_t
spawn_activated (int fd, char *const argv[])
{
  pid_t pid = fork ();

  if (pid == -1)
    fail ("fork: %s", strerror (errno));
  if (pid == 0) {
    char pidstr[32];
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (fd != 3) {
      dup2 (fd, 3);
      close (fd);
    }
    snprintf (pidstr, sizeof pidstr, "%d", (int) getpid ());
    setenv ("LISTEN_PID", pidstr, 1);
    setenv ("LISTEN_FDS", "1", 1);
    execvp (argv[0], argv);
    perror (argv[0]);
    _exit (127);
  }
  close (fd);
  if (nr_servers == MAX_SERVERS)
    fail ("too many servers");
  servers[nr_servers++] = pid;
  return pid;
}

/* Start a server (argv, NULL-terminated, without any listening option)
 * on a new Unix socket `leaf` in the test directory. Returns its PID and
 * the socket path in *path.
 */
static inline pid_t
start_server_unix (const char *leaf, const char **path, char *const argv[])
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const char *p = test_path (leaf);

  if (fd == -1)
    fail ("socket: %s", strerror (errno));
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", p);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == -1 ||
      listen (fd, 16) == -1)
    fail ("bind %s: %s", p, strerror (errno));
  /* The child keeps it across exec as fd 3: clear CLOEXEC there. */
  {
    int fd2 = dup (fd);
    close (fd);
    fd = fd2;
  }
  *path = p;
  return spawn_activated (fd, argv);
}

/* The same on 127.0.0.1 with a port the kernel picks; the port is
 * written to port_str (at least 8 bytes).
 */
static inline pid_t
start_server_tcp (char *port_str, char *const argv[])
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  if (fd == -1)
    fail ("socket: %s", strerror (errno));
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == -1 ||
      listen (fd, 16) == -1 ||
      getsockname (fd, (struct sockaddr *) &addr, &len) == -1)
    fail ("bind 127.0.0.1: %s", strerror (errno));
  snprintf (port_str, 8, "%d", ntohs (addr.sin_port));
  return spawn_activated (fd, argv);
}

/* A new handle connected to `nbdkit -s ARGS...` over its stdin/stdout. */
static inline struct nbd_handle *
connect_nbdkit (char **argv)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    fail ("nbd_create");
  if (nbd_connect_command (h, argv) == -1)
    fail ("nbd_connect_command %s", argv[3]);
  return h;
}

/* Define NAME, a closure's .free function counting its calls in the
 * `freed` member of the TYPE its user_data points to.
 */
#define FREE_COUNTER(name, type)                \
  static void                                   \
  name (void *user_data)                        \
  {                                             \
    type *counted = user_data;                  \
    counted->freed++;                           \
  }

/* An extent callback that counts its calls in the int its user_data
 * points to.
 */
static inline int
count_extent_calls (void *user_data, const char *metacontext,
                    uint64_t offset, uint32_t *entries, size_t nr, int *error)
{
  (void) metacontext; (void) offset; (void) entries; (void) nr; (void) error;
  ++*(int *) user_data;
  return 0;
}

/* A list callback (nbd_opt_list) that takes each export and does
 * nothing with it.
 */
static inline int
ignore_export (void *user_data, const char *name, const char *description)
{
  (void) user_data; (void) name; (void) description;
  return 0;
}

/* A context callback (nbd_opt_list_meta_context) that takes each context
 * and does nothing with it.
 */
static inline int
ignore_context (void *user_data, const char *name)
{
  (void) user_data; (void) name;
  return 0;
}

/* Connect `h` (set up for TLS) with `nbd_connect_command (h, server)`,
 * check that TLS was negotiated and that `len` bytes of `data` written
 * at `offset` read back the same, then shut it down and close it.
 */
static inline void
tls_round_trip (struct nbd_handle *h, char **server,
                const char *data, size_t len, uint64_t offset)
{
  char back[256];

  CHECK (len <= sizeof back);
  OK (nbd_connect_command (h, server));
  CHECK (nbd_get_tls_negotiated (h) == 1);
  OK (nbd_pwrite (h, data, len, offset, 0));
  OK (nbd_pread (h, back, len, offset, 0));
  CHECK (memcmp (back, data, len) == 0);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
}

/* The byte that `nbdkit pattern` serves at `offset`: each 8-byte word
 * holds its own offset, big-endian.
 */
static inline uint8_t
pattern_byte (uint64_t offset)
{
  uint64_t word = offset & ~UINT64_C (7);
  return (uint8_t) (word >> (8 * (7 - (offset & 7))));
}

static inline void
check_pattern (const uint8_t *buf, size_t len, uint64_t offset)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (buf[i] != pattern_byte (offset + i))
      fail ("pattern mismatch at offset %" PRIu64 ": 0x%02x, expected 0x%02x",
            offset + i, buf[i], pattern_byte (offset + i));
}

#endif /* NBD_TEST_HARNESS_H */
