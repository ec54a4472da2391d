/* nbd_kill_subprocess ends the server the library started; the
 * connection then fails rather than hangs.
 */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct nbd_handle *h;
  int64_t pid;
  char buf[512];
  int i;

  start_test ("704-kill-subprocess", 60);
  h = connect_nbdkit (argv);
  pid = nbd_get_subprocess_pid (h);
  CHECK (pid > 0);
  CHECK (kill ((pid_t) pid, 0) == 0);
  OK (nbd_kill_subprocess (h, 0));
  CHECK (nbd_pread (h, buf, sizeof buf, 0, 0) == -1);
  CHECK (nbd_get_errno () != 0);
  /* As in libnbd, nbd_close reaps the child: it is gone, not a zombie. */
  nbd_close (h);
  for (i = 0; i < 100 && kill ((pid_t) pid, 0) == 0; i++)
    usleep (50000);
  CHECK (kill ((pid_t) pid, 0) == -1 && errno == ESRCH);

  /* With an explicit signal. */
  h = connect_nbdkit (argv);
  OK (nbd_kill_subprocess (h, SIGKILL));
  nbd_close (h);
  return end_test ();
}
