/* nbd_connect_command runs nbdkit -s over a socketpair; a connected
 * handle refuses a second connect with EINVAL; a server that exits at
 * once fails the call (no hang) and leaves the handle dead.
 */
/* scenarios: 207 209 */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct nbd_handle *h;

  start_test ("200-connect-command", 60);
  h = connect_nbdkit (argv);
  CHECK (nbd_aio_is_ready (h) == 1);
  CHECK (nbd_get_size (h) == 1024 * 1024);
  CHECK (nbd_get_subprocess_pid (h) > 0);
  CHECK (strcmp (nbd_get_protocol (h), "newstyle-fixed") == 0);
  CHECK (nbd_get_structured_replies_negotiated (h) == 1);
  CHECK (nbd_is_read_only (h) == 0);
  FAILS_WITH (nbd_connect_command (h, argv), EINVAL);
  CHECK (nbd_aio_is_ready (h) == 1);
  OK (nbd_shutdown (h, 0));
  CHECK (nbd_aio_is_closed (h) == 1);
  nbd_close (h);

  {
    char *failing[] = { "false", NULL };
    h = nbd_create ();
    CHECK (h != NULL);
    CHECK (nbd_connect_command (h, failing) == -1);
    CHECK (nbd_get_errno () != 0 && nbd_get_error () != NULL);
    CHECK (nbd_aio_is_dead (h) == 1);
    nbd_close (h);
  }
  return end_test ();
}
