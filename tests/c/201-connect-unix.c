/* nbd_connect_unix to nbdkit listening on a Unix socket. */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-f", "memory", "2M", NULL };
  struct nbd_handle *h;
  const char *sock;
  char *uri;

  start_test ("201-connect-unix", 60);
  start_server_unix ("sock", &sock, argv);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_unix (h, sock));
  CHECK (nbd_get_size (h) == 2 * 1024 * 1024);
  uri = nbd_get_uri (h);
  CHECK (uri != NULL && strncmp (uri, "nbd+unix://", 11) == 0);
  free (uri);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
