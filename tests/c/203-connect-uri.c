/* nbd_connect_uri with nbd:// (TCP, export name from the path) and
 * nbd+unix:// (socket query parameter), and nbd_is_uri.
 */
/* scenarios: 720 */
#include "harness.h"

int
main (void)
{
  char *argv_tcp[] = { "nbdkit", "-f", "memory", "4M", NULL };
  char *argv_unix[] = { "nbdkit", "-f", "memory", "5M", NULL };
  struct nbd_handle *h;
  const char *sock;
  char port[8], uri[PATH_MAX + 64];
  char *name;

  start_test ("203-connect-uri", 60);
  start_server_tcp (port, argv_tcp);
  start_server_unix ("sock", &sock, argv_unix);

  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_is_uri (h, "nbd://localhost/") == 1);
  CHECK (nbd_is_uri (h, "/dev/sda") == 0);
  snprintf (uri, sizeof uri, "nbd://127.0.0.1:%s/myexport", port);
  OK (nbd_connect_uri (h, uri));
  CHECK (nbd_get_size (h) == 4 * 1024 * 1024);
  name = nbd_get_export_name (h);
  CHECK (name != NULL && strcmp (name, "myexport") == 0);
  free (name);
  nbd_close (h);

  h = nbd_create ();
  CHECK (h != NULL);
  snprintf (uri, sizeof uri, "nbd+unix:///?socket=%s", sock);
  OK (nbd_connect_uri (h, uri));
  CHECK (nbd_get_size (h) == 5 * 1024 * 1024);
  nbd_close (h);

  /* A malformed URI is EINVAL, and the handle stays usable. */
  h = nbd_create ();
  CHECK (h != NULL);
  FAILS_WITH (nbd_connect_uri (h, "nbd+unix://?socket"), EINVAL);
  nbd_close (h);
  return end_test ();
}
