/* nbd_connect_tcp to nbdkit on 127.0.0.1. */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-f", "memory", "3M", NULL };
  struct nbd_handle *h;
  char port[8];

  start_test ("202-connect-tcp", 60);
  start_server_tcp (port, argv);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_tcp (h, "127.0.0.1", port));
  CHECK (nbd_get_size (h) == 3 * 1024 * 1024);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
