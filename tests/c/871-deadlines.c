/* Deadlines (extensions): a read the server answers too slowly fails
 * with ETIMEDOUT at nbd_set_request_timeout's deadline and closes the
 * connection; a handshake that overruns nbd_set_connect_timeout fails
 * with ETIMEDOUT; nbd_aio_get_timeout_ms tells an event loop how long it
 * may wait. (The Rust tests check the 20 % bound; under valgrind this
 * one allows more.)
 */
#include "harness.h"
#include <poll.h>
#include <time.h>

static double
seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
check_on_time (double start)
{
  double took = seconds () - start;
  if (took < 0.98 || took > 1.6)
    fail ("took %.3f s for a 1 s deadline", took);
}

int
main (void)
{
  char *slow_reads[] = { "nbdkit", "-f", "--filter=delay", "memory", "1M",
                         "rdelay=5", NULL };
  char *slow_open[] = { "nbdkit", "-f", "--filter=delay", "memory", "1M",
                        "delay-open=5", NULL };
  const char *sock, *sock2;
  struct nbd_handle *h;
  static char buf[4096];
  double start;

  start_test ("871-deadlines", 120);
  start_server_unix ("sock", &sock, slow_reads);
  start_server_unix ("sock2", &sock2, slow_open);

  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_get_request_timeout (h) == 0);
  CHECK (nbd_aio_get_timeout_ms (h) == -1);
  OK (nbd_set_request_timeout (h, 1000));
  CHECK (nbd_get_request_timeout (h) == 1000);
  OK (nbd_connect_unix (h, sock));
  OK (nbd_pwrite (h, buf, sizeof buf, 0, 0));
  CHECK (nbd_aio_get_timeout_ms (h) == -1);
  {
    /* The caller's own loop: poll(2) with nbd_aio_get_timeout_ms. */
    int64_t cookie = nbd_aio_pread (h, buf, 512, 0, NBD_NULL_COMPLETION, 0);
    int t = nbd_aio_get_timeout_ms (h);
    CHECK (cookie > 0);
    CHECK (t > 500 && t <= 1000);
    start = seconds ();
    for (;;) {
      struct pollfd pfd;
      t = nbd_aio_get_timeout_ms (h);
      if (nbd_aio_in_flight (h) == 0)
        break;
      pfd.fd = nbd_aio_get_fd (h);
      pfd.events = POLLIN;
      CHECK (poll (&pfd, 1, t) >= 0);
      if (pfd.revents)
        OK (nbd_aio_notify_read (h));
    }
    check_on_time (start);
    FAILS_WITH (nbd_aio_command_completed (h, cookie), ETIMEDOUT);
  }
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EINVAL);
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);

  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_connect_timeout (h, 1000));
  CHECK (nbd_get_connect_timeout (h) == 1000);
  start = seconds ();
  FAILS_WITH (nbd_connect_unix (h, sock2), ETIMEDOUT);
  check_on_time (start);
  CHECK (nbd_aio_is_dead (h));
  FAILS_WITH (nbd_set_connect_timeout (h, 5), EINVAL);
  nbd_close (h);
  return end_test ();
}
