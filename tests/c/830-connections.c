/* One handle, several connections (nbd_set_connections): four
 * connections to an nbdkit that advertises multi-conn carry 64 aio
 * writes driven by the caller's own poll loop on the handle's one
 * descriptor, completion callbacks fire for all, another handle reads
 * the data back after a flush, and nbdkit's log filter shows four
 * connections writing. Without multi-conn, one connection.
 */
#include "harness.h"
#include <poll.h>

#define BLOCK 65536
#define N 64

static uint8_t bufs[N][BLOCK];
static int completed, failed;

static int
done (void *user_data, int *error)
{
  (void) user_data;
  completed++;
  if (*error)
    failed++;
  return 1;
}

static void
step (struct nbd_handle *h)
{
  struct pollfd pfd = { .fd = nbd_aio_get_fd (h), .events = POLLIN };

  CHECK (pfd.fd >= 0);
  /* Several connections: one epoll descriptor, waited on for reading. */
  CHECK (nbd_aio_get_direction (h) == LIBNBD_AIO_DIRECTION_READ);
  CHECK (poll (&pfd, 1, 10000) == 1);
  OK (nbd_aio_notify_read (h));
}

/* How many different connections nbdkit's log shows doing `what`. */
static int
connections_doing (const char *log, const char *what)
{
  char line[1024], pat[64];
  int seen[256] = { 0 }, n = 0, id;
  FILE *fp = fopen (log, "r");

  CHECK (fp != NULL);
  snprintf (pat, sizeof pat, " %s ", what);
  while (fgets (line, sizeof line, fp) != NULL) {
    const char *c = strstr (line, " connection=");
    if (c == NULL || strstr (c, pat) == NULL ||
        sscanf (c, " connection=%d", &id) != 1 || id < 0 || id > 255)
      continue;
    if (strncmp (strstr (c, pat) + 1, what, strlen (what)) == 0 && !seen[id]) {
      seen[id] = 1;
      n++;
    }
  }
  fclose (fp);
  return n;
}

int
main (void)
{
  char logarg[PATH_MAX + 16];
  const char *log, *sock, *sock2;
  struct nbd_handle *h, *other;
  int64_t cookie;
  int i, fd;

  start_test ("830-connections", 120);
  log = test_path ("log");
  snprintf (logarg, sizeof logarg, "logfile=%s", log);
  {
    char *argv[] = { "nbdkit", "-f", "--filter=log", "memory", "8M", logarg,
                     NULL };
    start_server_unix ("sock", &sock, argv);
  }

  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_get_connections (h) == 1);
  FAILS_WITH (nbd_set_connections (h, 0), EINVAL);
  FAILS_WITH (nbd_set_connections (h, 65), EINVAL);
  OK (nbd_set_connections (h, 4));
  CHECK (nbd_get_connections (h) == 4);

  OK (nbd_aio_connect_unix (h, sock));
  fd = nbd_aio_get_fd (h);
  while (nbd_aio_is_connecting (h))
    step (h);
  CHECK (nbd_aio_is_ready (h));
  CHECK (nbd_get_connections (h) == 4);
  CHECK (nbd_aio_get_fd (h) == fd);
  FAILS_WITH (nbd_set_connections (h, 2), EINVAL);

  for (i = 0; i < N; i++) {
    memset (bufs[i], i + 1, BLOCK);
    cookie = nbd_aio_pwrite (h, bufs[i], BLOCK, (uint64_t) i * BLOCK,
                             (nbd_completion_callback) { .callback = done }, 0);
    CHECK (cookie > 0);
  }
  CHECK (nbd_aio_in_flight (h) == N);
  while (completed < N)
    step (h);
  CHECK (failed == 0);
  CHECK (nbd_aio_in_flight (h) == 0);
  OK (nbd_flush (h, 0));

  other = nbd_create ();
  CHECK (other != NULL);
  OK (nbd_connect_unix (other, sock));
  CHECK (nbd_get_connections (other) == 1);
  for (i = 0; i < N; i++) {
    static uint8_t back[BLOCK];
    OK (nbd_pread (other, back, BLOCK, (uint64_t) i * BLOCK, 0));
    CHECK (memcmp (back, bufs[i], BLOCK) == 0);
  }
  nbd_close (other);

  OK (nbd_shutdown (h, 0));
  CHECK (nbd_aio_is_closed (h));
  CHECK (nbd_get_connections (h) == 0);
  nbd_close (h);
  CHECK (connections_doing (log, "Connect") == 5);
  CHECK (connections_doing (log, "Write") == 4);

  /* Without multi-conn from the server: one connection. */
  {
    char *argv[] = { "nbdkit", "-f", "--filter=multi-conn", "memory", "1M",
                     "multi-conn-mode=disable", NULL };
    start_server_unix ("sock2", &sock2, argv);
  }
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_connections (h, 4));
  OK (nbd_connect_unix (h, sock2));
  CHECK (nbd_can_multi_conn (h) == 0);
  CHECK (nbd_get_connections (h) == 1);
  OK (nbd_pwrite (h, bufs[3], BLOCK, 0, 0));
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
