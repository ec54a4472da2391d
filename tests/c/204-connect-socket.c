/* nbd_connect_socket on a socket the caller connected itself. */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-f", "memory", "7M", NULL };
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct nbd_handle *h;
  const char *sock;
  int fd;

  start_test ("204-connect-socket", 60);
  start_server_unix ("sock", &sock, argv);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK (fd >= 0);
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", sock);
  CHECK (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0);

  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_socket (h, fd));   /* the handle now owns fd */
  CHECK (nbd_get_size (h) == 7 * 1024 * 1024);
  nbd_close (h);

  /* aio_connect with a struct sockaddr, driven to completion by poll. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_aio_connect (h, (struct sockaddr *) &addr, sizeof addr));
  while (!nbd_aio_is_ready (h)) {
    CHECK (!nbd_aio_is_dead (h));
    OK (nbd_poll (h, 5000));
  }
  CHECK (nbd_get_size (h) == 7 * 1024 * 1024);
  nbd_close (h);
  return end_test ();
}
