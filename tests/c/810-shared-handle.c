/* One handle shared by four threads: each writes and reads back its own
 * slice many times, blocking and with aio commands, while the others do
 * the same; every thread sees its own data, and the handle is still
 * ready afterwards.
 */
#include "harness.h"
#include <pthread.h>

#define THREADS 4
#define SLICE (64 * 1024)
#define ROUNDS 50

static struct nbd_handle *h;

struct worker {
  int id;
  int ok;
};

static void *
work (void *arg)
{
  struct worker *w = arg;
  static uint8_t bufs[THREADS][SLICE];
  uint8_t *buf = bufs[w->id];
  uint64_t offset = (uint64_t) w->id * SLICE;
  int round;
  int64_t cookie;

  for (round = 0; round < ROUNDS; round++) {
    uint8_t byte = (uint8_t) (w->id * 64 + round);

    memset (buf, byte, SLICE);
    if (round % 2 == 0) {
      if (nbd_pwrite (h, buf, SLICE, offset, 0) == -1)
        return NULL;
    }
    else {
      /* The aio form, waited for with aio_command_completed while other
       * threads poll the same handle. */
      cookie = nbd_aio_pwrite (h, buf, SLICE, offset, NBD_NULL_COMPLETION, 0);
      if (cookie == -1)
        return NULL;
      for (;;) {
        int r = nbd_aio_command_completed (h, cookie);
        if (r == -1)
          return NULL;
        if (r == 1)
          break;
        if (nbd_poll (h, 100) == -1)
          return NULL;
      }
    }
    memset (buf, 0, SLICE);
    if (nbd_pread (h, buf, SLICE, offset, 0) == -1)
      return NULL;
    if (buf[0] != byte || buf[SLICE / 2] != byte || buf[SLICE - 1] != byte)
      return NULL;
  }
  w->ok = 1;
  return NULL;
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct worker workers[THREADS];
  pthread_t threads[THREADS];
  int i;

  start_test ("810-shared-handle", 120);
  h = connect_nbdkit (argv);
  for (i = 0; i < THREADS; i++) {
    workers[i].id = i;
    workers[i].ok = 0;
    CHECK (pthread_create (&threads[i], NULL, work, &workers[i]) == 0);
  }
  for (i = 0; i < THREADS; i++)
    CHECK (pthread_join (threads[i], NULL) == 0);
  for (i = 0; i < THREADS; i++)
    if (!workers[i].ok)
      fail ("thread %d failed", i);
  CHECK (nbd_aio_is_ready (h) == 1);
  CHECK (nbd_aio_in_flight (h) == 0);
  nbd_close (h);
  return end_test ();
}
