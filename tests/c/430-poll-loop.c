/* The caller's own poll(2) loop: connect with aio_connect_unix, then
 * drive every command with nbd_aio_get_fd, nbd_aio_get_direction and
 * nbd_aio_notify_read/write, as an application with its own main loop
 * does. Also nbd_poll with a timeout when nothing is pending.
 */
/* scenarios: 206 */
#include "harness.h"
#include <poll.h>

static void
step (struct nbd_handle *h)
{
  struct pollfd pfd;
  unsigned dir;
  int r;

  pfd.fd = nbd_aio_get_fd (h);
  CHECK (pfd.fd >= 0);
  dir = nbd_aio_get_direction (h);
  pfd.events = 0;
  if (dir & LIBNBD_AIO_DIRECTION_READ)
    pfd.events |= POLLIN;
  if (dir & LIBNBD_AIO_DIRECTION_WRITE)
    pfd.events |= POLLOUT;
  pfd.revents = 0;
  r = poll (&pfd, 1, 5000);
  CHECK (r >= 0);
  if (r == 0)
    fail ("poll timed out, direction %u", dir);
  if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
    OK (nbd_aio_notify_read (h));
  else if (pfd.revents & POLLOUT)
    OK (nbd_aio_notify_write (h));
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-f", "memory", "4M", NULL };
  struct nbd_handle *h;
  const char *sock;
  static uint8_t buf[262144], back[262144];
  int64_t w, r;
  size_t i;

  start_test ("430-poll-loop", 60);
  start_server_unix ("sock", &sock, argv);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_aio_connect_unix (h, sock));
  while (nbd_aio_is_connecting (h))
    step (h);
  CHECK (nbd_aio_is_ready (h));

  for (i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t) (i * 13);
  w = nbd_aio_pwrite (h, buf, sizeof buf, 8192, NBD_NULL_COMPLETION, 0);
  CHECK (w > 0);
  while (nbd_aio_command_completed (h, w) == 0)
    step (h);
  r = nbd_aio_pread (h, back, sizeof back, 8192, NBD_NULL_COMPLETION, 0);
  CHECK (r > 0);
  while (nbd_aio_command_completed (h, r) == 0)
    step (h);
  CHECK (memcmp (buf, back, sizeof buf) == 0);

  /* Idle: nbd_poll waits for the timeout and reports it. */
  CHECK (nbd_aio_get_direction (h) == LIBNBD_AIO_DIRECTION_READ);
  CHECK (nbd_poll (h, 10) == 0);

  /* A clean disconnect through the same loop. */
  OK (nbd_aio_disconnect (h, 0));
  while (!nbd_aio_is_closed (h) && !nbd_aio_is_dead (h))
    step (h);
  CHECK (nbd_aio_is_closed (h));
  nbd_close (h);
  return end_test ();
}
