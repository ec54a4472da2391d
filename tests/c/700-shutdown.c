/* nbd_shutdown completes what is in flight, then disconnects cleanly;
 * with ABANDON_PENDING the unsent commands fail instead. Afterwards data
 * calls are refused and the handle reads as closed.
 */
/* scenarios: 701 */
#include "harness.h"

static int completed, failed;

static int
completion (void *user_data, int *error)
{
  (void) user_data;
  if (*error)
    failed++;
  else
    completed++;
  return 1;
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "4M", NULL };
  struct nbd_handle *h;
  static uint8_t bufs[16][4096];
  nbd_completion_callback cb = { .callback = completion };
  int i;

  start_test ("700-shutdown", 60);
  h = connect_nbdkit (argv);
  for (i = 0; i < 16; i++)
    CHECK (nbd_aio_pread (h, bufs[i], 4096, (uint64_t) i * 4096, cb, 0) > 0);
  OK (nbd_shutdown (h, 0));
  CHECK (completed == 16 && failed == 0);
  CHECK (nbd_aio_is_closed (h) == 1);
  FAILS_WITH (nbd_pread (h, bufs[0], 4096, 0, 0), EINVAL);
  FAILS_WITH (nbd_shutdown (h, 0), EINVAL);
  nbd_close (h);

  completed = failed = 0;
  h = connect_nbdkit (argv);
  for (i = 0; i < 16; i++)
    CHECK (nbd_aio_pread (h, bufs[i], 4096, (uint64_t) i * 4096, cb, 0) > 0);
  OK (nbd_shutdown (h, LIBNBD_SHUTDOWN_ABANDON_PENDING));
  /* Every command ended one way or the other, each exactly once. */
  while (completed + failed < 16 && !nbd_aio_is_closed (h) && !nbd_aio_is_dead (h))
    OK (nbd_poll (h, 5000));
  nbd_close (h);
  CHECK (completed + failed == 16);
  FAILS_WITH (nbd_shutdown (h = nbd_create (), 0), ENOTCONN);
  nbd_close (h);
  return end_test ();
}
