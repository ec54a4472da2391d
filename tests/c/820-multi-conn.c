/* Multi-conn: four handles to one server, each driven by its own thread
 * at the same time; after each thread's flush, every handle sees every
 * thread's data.
 */
#include "harness.h"
#include <pthread.h>

#define CONNS 4
#define SLICE (256 * 1024)

static const char *sock;

struct worker {
  int id;
  struct nbd_handle *h;
  int ok;
};

static void *
work (void *arg)
{
  struct worker *w = arg;
  static uint8_t bufs[CONNS][SLICE];
  uint8_t *buf = bufs[w->id];
  int round;

  for (round = 0; round < 8; round++) {
    memset (buf, w->id * 16 + round, SLICE);
    if (nbd_pwrite (w->h, buf, SLICE, (uint64_t) w->id * SLICE, 0) == -1)
      return NULL;
    if (nbd_pread (w->h, buf, SLICE, (uint64_t) w->id * SLICE, 0) == -1)
      return NULL;
    if (buf[0] != w->id * 16 + round || buf[SLICE - 1] != w->id * 16 + round)
      return NULL;
  }
  if (nbd_flush (w->h, 0) == -1)
    return NULL;
  w->ok = 1;
  return NULL;
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-f", "memory", "1M", NULL };
  struct worker workers[CONNS];
  pthread_t threads[CONNS];
  uint8_t byte;
  int i, j;

  start_test ("820-multi-conn", 120);
  start_server_unix ("sock", &sock, argv);
  for (i = 0; i < CONNS; i++) {
    workers[i].id = i;
    workers[i].ok = 0;
    workers[i].h = nbd_create ();
    CHECK (workers[i].h != NULL);
    OK (nbd_connect_unix (workers[i].h, sock));
    CHECK (nbd_can_multi_conn (workers[i].h) == 1);
  }
  for (i = 0; i < CONNS; i++)
    CHECK (pthread_create (&threads[i], NULL, work, &workers[i]) == 0);
  for (i = 0; i < CONNS; i++) {
    CHECK (pthread_join (threads[i], NULL) == 0);
    if (!workers[i].ok)
      fail ("worker %d failed", i);
  }
  for (i = 0; i < CONNS; i++)
    for (j = 0; j < CONNS; j++) {
      OK (nbd_pread (workers[i].h, &byte, 1, (uint64_t) j * SLICE + 7, 0));
      CHECK (byte == j * 16 + 7);
    }
  for (i = 0; i < CONNS; i++)
    nbd_close (workers[i].h);
  return end_test ();
}
