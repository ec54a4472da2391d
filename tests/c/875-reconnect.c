/* Reconnect (nbd_set_reconnect_delay, an extension): a file-backed
 * nbdkit killed with 32 slow writes in flight and started again on the
 * same socket: every write completes once the handle is back, the data
 * reads back, and nbd_stats_reconnects counts one.
 */
#include "harness.h"
#include <fcntl.h>
#include <time.h>

#define BLOCK 65536
#define N 32

static uint8_t bufs[N][BLOCK];
static int completed, failed;

static int
done (void *user_data, int *error)
{
  (void) user_data;
  completed++;
  if (*error)
    failed++;
  return 1;
}

static double
seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main (void)
{
  const char *sock, *disk;
  char diskarg[PATH_MAX];
  struct nbd_handle *h;
  pid_t pid;
  double killed;
  int i, fd, restarted = 0;

  start_test ("875-reconnect", 120);
  disk = test_path ("disk");
  fd = open (disk, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK (fd >= 0);
  CHECK (ftruncate (fd, N * BLOCK) == 0);
  close (fd);
  snprintf (diskarg, sizeof diskarg, "%s", disk);
  {
    char *argv[] = { "nbdkit", "-f", "--filter=delay", "file", diskarg,
                     "wdelay=2", NULL };
    pid = start_server_unix ("sock", &sock, argv);
  }

  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_get_reconnect_delay (h) == 0);
  OK (nbd_set_reconnect_delay (h, 10000));
  CHECK (nbd_get_reconnect_delay (h) == 10000);
  OK (nbd_connect_unix (h, sock));
  for (i = 0; i < N; i++) {
    memset (bufs[i], i + 1, BLOCK);
    CHECK (nbd_aio_pwrite (h, bufs[i], BLOCK, (uint64_t) i * BLOCK,
                           (nbd_completion_callback) { .callback = done },
                           0) > 0);
  }
  for (i = 0; i < 4; i++)
    CHECK (nbd_poll (h, 50) >= 0);
  CHECK (nbd_aio_in_flight (h) == N);

  kill (pid, SIGKILL);
  stop_server (pid);
  killed = seconds ();
  while (completed < N) {
    if (seconds () - killed > 20)
      fail ("the writes did not complete after the restart");
    if (!restarted && seconds () - killed > 0.3) {
      char *argv[] = { "nbdkit", "-f", "file", diskarg, NULL };
      unlink (sock);
      start_server_unix ("sock", &sock, argv);
      restarted = 1;
    }
    nbd_poll (h, 50);
  }
  CHECK (failed == 0);
  CHECK (nbd_stats_reconnects (h) == 1);
  OK (nbd_flush (h, 0));
  for (i = 0; i < N; i++) {
    static uint8_t back[BLOCK];
    OK (nbd_pread (h, back, BLOCK, (uint64_t) i * BLOCK, 0));
    CHECK (memcmp (back, bufs[i], BLOCK) == 0);
  }
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
