/* nbd_get_error and nbd_get_errno are per thread: two threads fail
 * differently at the same time and each reads its own error; a thread
 * that never failed reads none; a message stays valid until that thread's
 * next error.
 */
#include "harness.h"
#include <pthread.h>

static pthread_barrier_t barrier;

struct result {
  int errno_seen;
  char msg[256];
};

/* This thread's last error, as nbd_get_errno and nbd_get_error give it. */
static void
record_error (struct result *r)
{
  const char *msg;

  r->errno_seen = nbd_get_errno ();
  msg = nbd_get_error ();
  snprintf (r->msg, sizeof r->msg, "%s", msg ? msg : "(null)");
}

static void *
einval_thread (void *arg)
{
  struct result *r = arg;
  struct nbd_handle *h = nbd_create ();
  if (h == NULL) return NULL;
  nbd_set_tls (h, 99);
  pthread_barrier_wait (&barrier);   /* both have failed */
  pthread_barrier_wait (&barrier);   /* both read after the other failed */
  record_error (r);
  nbd_close (h);
  return NULL;
}

static void *
enotconn_thread (void *arg)
{
  struct result *r = arg;
  struct nbd_handle *h = nbd_create ();
  if (h == NULL) return NULL;
  pthread_barrier_wait (&barrier);
  nbd_get_size (h);
  pthread_barrier_wait (&barrier);
  record_error (r);
  nbd_close (h);
  return NULL;
}

static void *
clean_thread (void *arg)
{
  struct result *r = arg;
  record_error (r);
  return NULL;
}

int
main (void)
{
  pthread_t t1, t2, t3;
  struct result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
  struct nbd_handle *h;
  const char *kept;
  char copy[256];

  start_test ("540-thread-errors", 60);
  pthread_barrier_init (&barrier, NULL, 2);
  CHECK (pthread_create (&t1, NULL, einval_thread, &r1) == 0);
  CHECK (pthread_create (&t2, NULL, enotconn_thread, &r2) == 0);
  CHECK (pthread_join (t1, NULL) == 0);
  CHECK (pthread_join (t2, NULL) == 0);
  CHECK (r1.errno_seen == EINVAL && strstr (r1.msg, "nbd_set_tls") != NULL);
  CHECK (r2.errno_seen == ENOTCONN && strstr (r2.msg, "nbd_get_size") != NULL);

  /* The main thread has not failed yet. */
  CHECK (nbd_get_error () == NULL);
  CHECK (nbd_get_errno () == 0);

  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_set_tls (h, 42) == -1);
  kept = nbd_get_error ();
  CHECK (kept != NULL);
  snprintf (copy, sizeof copy, "%s", kept);
  /* Successful calls and another thread's failure leave it intact. */
  OK (nbd_set_export_name (h, "x"));
  CHECK (pthread_create (&t3, NULL, clean_thread, &r3) == 0);
  CHECK (pthread_join (t3, NULL) == 0);
  CHECK (r3.errno_seen == 0 && strcmp (r3.msg, "(null)") == 0);
  CHECK (strcmp (kept, copy) == 0);
  nbd_close (h);
  pthread_barrier_destroy (&barrier);
  return end_test ();
}
