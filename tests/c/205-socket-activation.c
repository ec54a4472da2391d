/* nbd_connect_systemd_socket_activation: the library makes the socket,
 * starts nbdkit with LISTEN_FDS, and connects.
 */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "--exit-with-parent", "memory", "6M", NULL };
  struct nbd_handle *h;

  start_test ("205-socket-activation", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_systemd_socket_activation (h, argv));
  CHECK (nbd_get_size (h) == 6 * 1024 * 1024);
  CHECK (nbd_get_subprocess_pid (h) > 0);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
