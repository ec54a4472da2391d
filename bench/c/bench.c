/* The C side of `cargo xtask bench`: one workload against one NBD server,
 * printed as one JSON line.
 *
 * This file is compiled twice, once against Debian's libnbd and once
 * against our libnbd.so.0, so both libraries run exactly the same code.
 * It links only calls that exist in libnbd 1.14 (nbd_set_connections is
 * looked up at run time).
 *
 * Usage: bench WORKLOAD URI AMOUNT
 *
 *   seq-read         AMOUNT bytes from offset 0, 256 KiB requests, 64 in flight
 *   seq-write        the same, writing
 *   rand-read-qd1    AMOUNT random 4 KiB reads, nbd_pread, one at a time
 *   rand-read-qd1-aio  the same with nbd_aio_pread + nbd_poll, one at a time
 *   rand-read-qd64   AMOUNT random 4 KiB reads, 64 in flight
 *   multi-conn-read  AMOUNT bytes read by 4 threads over 4 connections
 *                    (one handle each, 16 in flight each)
 *   multi-conn-rand-read  AMOUNT random 4 KiB reads by 4 threads over 4
 *                    connections (one handle each, 16 in flight each)
 *   one-handle-seq-read, one-handle-rand-read
 *                    seq-read and rand-read-qd64 on one handle asking for
 *                    4 connections with nbd_set_connections when the
 *                    library has it (found at run time; libnbd has not,
 *                    and runs them on one connection)
 *
 * AMOUNT 0 connects and disconnects only: the syscall counting pass runs it
 * to subtract the cost of starting and connecting.
 *
 * Output: {"workload": ..., "lib": path of the libnbd.so that was loaded,
 *          "version": ..., "ops": requests, "bytes": payload bytes,
 *          "secs": wall time of the workload, "user"/"sys": CPU seconds of
 *          this process during the workload, "lat_us": mean request latency
 *          (QD1 workloads), "multi_conn": server's can_multi_conn}
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libnbd.h>
#include "clock.h"

#define KiB 1024
#define STREAM_REQUEST (256 * KiB)
#define STREAM_QD 64
#define RANDOM_REQUEST (4 * KiB)
#define RANDOM_QD 64
#define CONNS 4
#define MAX_QD 64

static void
die (const char *what)
{
  fprintf (stderr, "bench: %s: %s\n", what, nbd_get_error () ? nbd_get_error () : "(no error)");
  exit (1);
}

/* The same generator in bench.c, the Rust harness and bench.py, so every
 * side reads the same offsets: xorshift64, fixed seed. */
#define RNG_SEED 0x9E3779B97F4A7C15ULL
static __thread uint64_t rng_state = RNG_SEED;

static uint64_t
rng_next (void)
{
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

static uint64_t
random_offset (int64_t size)
{
  return (rng_next () % ((uint64_t) size / RANDOM_REQUEST)) * RANDOM_REQUEST;
}

static struct nbd_handle *
open_handle (const char *uri, int conns)
{
  struct nbd_handle *h = nbd_create ();
  if (h == NULL)
    die ("nbd_create");
  if (conns > 1) {
    int (*set_connections) (struct nbd_handle *, int) =
      (int (*) (struct nbd_handle *, int)) dlsym (RTLD_DEFAULT, "nbd_set_connections");
    if (set_connections && set_connections (h, conns) == -1)
      die ("nbd_set_connections");
  }
  if (nbd_connect_uri (h, uri) == -1)
    die ("nbd_connect_uri");
  return h;
}

/* ---- aio with a fixed number of requests in flight ---- */

struct window;

struct slot {
  struct window *w;
  int index;
  char *buf;
};

struct window {
  struct nbd_handle *h;
  struct slot slots[MAX_QD];
  int free[MAX_QD];
  int nfree;
  uint64_t completed;
  int errors;
};

static int
on_complete (void *user_data, int *error)
{
  struct slot *s = user_data;
  if (*error)
    s->w->errors++;
  s->w->free[s->w->nfree++] = s->index;
  s->w->completed++;
  return 1;                     /* retire the command */
}

static void
window_init (struct window *w, struct nbd_handle *h, int qd, size_t request)
{
  memset (w, 0, sizeof *w);
  w->h = h;
  for (int i = 0; i < qd; i++) {
    w->slots[i].w = w;
    w->slots[i].index = i;
    w->slots[i].buf = malloc (request);
    if (w->slots[i].buf == NULL) {
      perror ("malloc");
      exit (1);
    }
    memset (w->slots[i].buf, 0x55 + i, request);
    w->free[w->nfree++] = i;
  }
}

static void
window_free (struct window *w, int qd)
{
  for (int i = 0; i < qd; i++)
    free (w->slots[i].buf);
}

/* Run `nreq` requests of `request` bytes, at most `qd` in flight. The
 * offset of request i is `start + i * request`, or random when `random`. */
static void
window_run (struct window *w, uint64_t nreq, size_t request, uint64_t start,
            bool write, bool random, int64_t size)
{
  uint64_t issued = 0;
  while (w->completed < nreq) {
    while (w->nfree > 0 && issued < nreq) {
      struct slot *s = &w->slots[w->free[--w->nfree]];
      uint64_t offset = random ? random_offset (size) : start + issued * request;
      nbd_completion_callback cb = { .callback = on_complete, .user_data = s };
      int64_t cookie = write
        ? nbd_aio_pwrite (w->h, s->buf, request, offset, cb, 0)
        : nbd_aio_pread (w->h, s->buf, request, offset, cb, 0);
      if (cookie == -1)
        die (write ? "nbd_aio_pwrite" : "nbd_aio_pread");
      issued++;
    }
    if (w->completed < nreq && nbd_poll (w->h, -1) == -1)
      die ("nbd_poll");
  }
  if (w->errors) {
    fprintf (stderr, "bench: %d requests failed\n", w->errors);
    exit (1);
  }
}

/* ---- multi-conn: one thread and one handle per connection ---- */

struct conn {
  const char *uri;
  struct nbd_handle *h;
  uint64_t start, len;
  pthread_barrier_t *go;
  /* Random 4 KiB reads (len of them) instead of a sequential stream. */
  bool random;
  int index;
  int64_t size;
};

static void *
conn_main (void *arg)
{
  struct conn *c = arg;
  struct window *w = malloc (sizeof *w);
  int qd = (c->random ? RANDOM_QD : STREAM_QD) / CONNS;
  size_t request = c->random ? RANDOM_REQUEST : STREAM_REQUEST;
  /* Each thread its own sequence of offsets. */
  rng_state = RNG_SEED ^ (uint64_t) (c->index + 1);
  window_init (w, c->h, qd, request);
  pthread_barrier_wait (c->go);
  if (c->random)
    window_run (w, c->len, request, 0, false, true, c->size);
  else
    window_run (w, c->len / request, request, c->start, false, false, 0);
  window_free (w, qd);
  free (w);
  return NULL;
}

int
main (int argc, char *argv[])
{
  if (argc != 4) {
    fprintf (stderr, "usage: bench WORKLOAD URI AMOUNT\n");
    exit (2);
  }
  const char *workload = argv[1], *uri = argv[2];
  uint64_t amount = strtoull (argv[3], NULL, 0);
  bool multi = strcmp (workload, "multi-conn-read") == 0;
  bool multi_random = strcmp (workload, "multi-conn-rand-read") == 0;
  /* The one-handle workloads are seq-read and rand-read-qd64 on a handle
   * asking for CONNS connections. */
  int conns_wanted = 1;
  if (strcmp (workload, "one-handle-seq-read") == 0) {
    workload = "seq-read";
    conns_wanted = CONNS;
  }
  else if (strcmp (workload, "one-handle-rand-read") == 0) {
    workload = "rand-read-qd64";
    conns_wanted = CONNS;
  }
  const char *name = argv[1];

  Dl_info info = { 0 };
  dladdr ((void *) nbd_create, &info);

  struct nbd_handle *hs[CONNS];
  int nconn = multi || multi_random ? CONNS : 1;
  for (int i = 0; i < nconn; i++)
    hs[i] = open_handle (uri, conns_wanted);
  struct nbd_handle *h = hs[0];
  int64_t size = nbd_get_size (h);
  if (size == -1)
    die ("nbd_get_size");
  int multi_conn = nbd_can_multi_conn (h);
  const char *v = nbd_get_version (h);
  char *version = strdup (v ? v : "?");

  uint64_t ops = 0, bytes = 0;
  double lat_sum = 0, u0, s0, u1, s1;
  cpu (&u0, &s0);
  double t0 = now ();

  if (amount == 0)
    ;
  else if (strcmp (workload, "seq-read") == 0 || strcmp (workload, "seq-write") == 0) {
    bool write = workload[4] == 'w';
    struct window *w = malloc (sizeof *w);
    window_init (w, h, STREAM_QD, STREAM_REQUEST);
    t0 = now ();
    cpu (&u0, &s0);
    ops = amount / STREAM_REQUEST;
    window_run (w, ops, STREAM_REQUEST, 0, write, false, size);
    bytes = ops * STREAM_REQUEST;
    window_free (w, STREAM_QD);
    free (w);
  }
  else if (strcmp (workload, "rand-read-qd1") == 0) {
    static char buf[RANDOM_REQUEST];
    for (ops = 0; ops < amount; ops++) {
      double a = now ();
      if (nbd_pread (h, buf, sizeof buf, random_offset (size), 0) == -1)
        die ("nbd_pread");
      lat_sum += now () - a;
    }
    bytes = ops * RANDOM_REQUEST;
  }
  else if (strcmp (workload, "rand-read-qd1-aio") == 0) {
    static char buf[RANDOM_REQUEST];
    for (ops = 0; ops < amount; ops++) {
      double a = now ();
      int64_t cookie = nbd_aio_pread (h, buf, sizeof buf, random_offset (size),
                                      NBD_NULL_COMPLETION, 0);
      if (cookie == -1)
        die ("nbd_aio_pread");
      int r;
      while ((r = nbd_aio_command_completed (h, cookie)) == 0)
        if (nbd_poll (h, -1) == -1)
          die ("nbd_poll");
      if (r == -1)
        die ("nbd_aio_command_completed");
      lat_sum += now () - a;
    }
    bytes = ops * RANDOM_REQUEST;
  }
  else if (strcmp (workload, "rand-read-qd64") == 0) {
    struct window *w = malloc (sizeof *w);
    window_init (w, h, RANDOM_QD, RANDOM_REQUEST);
    t0 = now ();
    cpu (&u0, &s0);
    ops = amount;
    window_run (w, ops, RANDOM_REQUEST, 0, false, true, size);
    bytes = ops * RANDOM_REQUEST;
    window_free (w, RANDOM_QD);
    free (w);
  }
  else if (multi || multi_random) {
    uint64_t per = multi_random
      ? amount / CONNS
      : amount / CONNS / STREAM_REQUEST * STREAM_REQUEST;
    pthread_barrier_t go;
    pthread_barrier_init (&go, NULL, CONNS + 1);
    pthread_t tids[CONNS];
    struct conn conns[CONNS];
    for (int i = 0; i < CONNS; i++) {
      conns[i] = (struct conn) { uri, hs[i], i * per, per, &go, multi_random, i, size };
      pthread_create (&tids[i], NULL, conn_main, &conns[i]);
    }
    pthread_barrier_wait (&go);
    t0 = now ();
    cpu (&u0, &s0);
    for (int i = 0; i < CONNS; i++)
      pthread_join (tids[i], NULL);
    if (multi_random) {
      ops = per * CONNS;
      bytes = ops * RANDOM_REQUEST;
    }
    else {
      ops = per / STREAM_REQUEST * CONNS;
      bytes = per * CONNS;
    }
  }
  else {
    fprintf (stderr, "bench: unknown workload %s\n", workload);
    exit (2);
  }

  double secs = now () - t0;
  cpu (&u1, &s1);

  for (int i = 0; i < nconn; i++) {
    if (nbd_shutdown (hs[i], 0) == -1)
      die ("nbd_shutdown");
    nbd_close (hs[i]);
  }

  printf ("{\"workload\": \"%s\", \"side\": \"c\", \"lib\": \"%s\", \"version\": \"%s\", "
          "\"ops\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"secs\": %.6f, "
          "\"user\": %.6f, \"sys\": %.6f, \"lat_us\": %.3f, \"multi_conn\": %s}\n",
          name, info.dli_fname ? info.dli_fname : "?", version ? version : "?",
          ops, bytes, secs, u1 - u0, s1 - s0,
          ops && lat_sum > 0 ? lat_sum / ops * 1e6 : 0.0,
          multi_conn == 1 ? "true" : "false");
  return 0;
}
