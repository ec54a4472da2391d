/* The server dies in the middle of a command: the blocking call and the
 * commands in flight fail (each completion called once, with an error,
 * then freed), the handle is dead, and later calls fail without hanging.
 */
/* scenarios: 703 */
#include "harness.h"

static int calls, errors, frees;

static int
completion (void *user_data, int *error)
{
  (void) user_data;
  calls++;
  if (*error)
    errors++;
  return 1;
}

static void
free_it (void *user_data)
{
  (void) user_data;
  frees++;
}

int
main (void)
{
  /* Every read waits 2 seconds, so commands are surely in flight. */
  char *argv[] = { "nbdkit", "-f", "--filter=delay", "memory", "1M", "rdelay=2", NULL };
  struct nbd_handle *h;
  const char *sock;
  static char bufs[4][4096];
  nbd_completion_callback cb = { .callback = completion, .free = free_it };
  pid_t pid;
  int i;

  start_test ("705-server-death", 60);
  pid = start_server_unix ("sock", &sock, argv);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_unix (h, sock));
  for (i = 0; i < 4; i++)
    CHECK (nbd_aio_pread (h, bufs[i], 4096, 0, cb, 0) > 0);
  OK (nbd_poll (h, 100));    /* send them */
  usleep (200000);
  kill (pid, SIGKILL);
  stop_server (pid);

  CHECK (nbd_pread (h, bufs[0], 4096, 0, 0) == -1);
  CHECK (nbd_get_errno () != 0);
  while (calls < 4 && !nbd_aio_is_dead (h))
    if (nbd_poll (h, 5000) == -1)
      break;
  CHECK (nbd_aio_is_dead (h) == 1);
  CHECK (calls == 4 && errors == 4 && frees == 4);
  CHECK (nbd_pread (h, bufs[0], 4096, 0, 0) == -1);
  CHECK (nbd_aio_pread (h, bufs[0], 4096, 0, cb, 0) == -1);
  CHECK (frees == 5 && calls == 4);
  nbd_close (h);
  return end_test ();
}
