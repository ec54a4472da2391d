/* nbd_get_handle_size (libnbd 1.24): an estimate of the memory the
 * handle holds, in any state; it grows when the handle connects (the
 * connection's buffers) and with commands in flight.
 */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  /* volatile: keep the compiler from seeing the NULL (nonnull). */
  struct nbd_handle *volatile nullh = NULL;
  struct nbd_handle *h;
  ssize_t fresh, connected, busy;
  char buf[512];
  int64_t cookies[64];
  int i;

  start_test ("480-handle-size", 60);
  FAILS_WITH (nbd_get_handle_size (nullh), EFAULT);
  h = nbd_create ();
  CHECK (h != NULL);
  fresh = nbd_get_handle_size (h);
  CHECK (fresh > 0);
  OK (nbd_set_export_name (h, "a longer export name than the default"));
  CHECK (nbd_get_handle_size (h) > fresh);
  OK (nbd_connect_command (h, argv));
  connected = nbd_get_handle_size (h);
  /* At least the connection's input buffer. */
  CHECK (connected >= fresh + 64 * 1024);
  for (i = 0; i < 64; i++)
    CHECK ((cookies[i] = nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0)) > 0);
  busy = nbd_get_handle_size (h);
  CHECK (busy > connected);
  while (nbd_aio_in_flight (h) > 0)
    OK (nbd_poll (h, 5000));
  for (i = 0; i < 64; i++)
    CHECK (nbd_aio_command_completed (h, cookies[i]) == 1);
  OK (nbd_shutdown (h, 0));
  CHECK (nbd_get_handle_size (h) > 0);
  nbd_close (h);
  return end_test ();
}
