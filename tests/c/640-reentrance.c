/* A callback that calls a locked function of its own handle gets -1 with
 * EDEADLK instead of waiting for itself for ever (libnbd deadlocks here),
 * nbd_close from a callback leaves the handle open, the getters that
 * cannot fail answer, and the handle works afterwards.
 */
#include "harness.h"

struct seen {
  struct nbd_handle *h;
  int calls;
  int size_errno;
  int pread_errno;
  int close_errno;
  int debug;
};

static int
completion_cb (void *user_data, int *error)
{
  struct seen *s = user_data;
  char buf[512];

  s->calls++;
  CHECK (*error == 0);
  CHECK (nbd_get_size (s->h) == -1);
  s->size_errno = nbd_get_errno ();
  CHECK (nbd_pread (s->h, buf, sizeof buf, 0, 0) == -1);
  s->pread_errno = nbd_get_errno ();
  /* nbd_close returns nothing: it must refuse and set the error. */
  nbd_close (s->h);
  s->close_errno = nbd_get_errno ();
  s->debug = nbd_get_debug (s->h);
  return 1;
}

static int
debug_cb (void *user_data, const char *context, const char *msg)
{
  struct seen *s = user_data;

  if (strcmp (context, "nbd_set_export_name") == 0 &&
      strncmp (msg, "enter", 5) == 0) {
    s->calls++;
    CHECK (nbd_set_handle_name (s->h, "inner") == -1);
    s->size_errno = nbd_get_errno ();
  }
  return 0;
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct nbd_handle *h;
  struct seen s = { 0 };
  nbd_completion_callback cb = { .callback = completion_cb, .user_data = &s };
  nbd_debug_callback dcb = { .callback = debug_cb, .user_data = &s };
  char buf[512];
  char *name;

  start_test ("640-reentrance", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  s.h = h;
  OK (nbd_connect_command (h, argv));

  CHECK (nbd_aio_pread (h, buf, sizeof buf, 0, cb, 0) > 0);
  while (nbd_aio_in_flight (h) > 0)
    OK (nbd_poll (h, 5000));
  CHECK (s.calls == 1);
  CHECK (s.size_errno == EDEADLK);
  CHECK (s.pread_errno == EDEADLK);
  CHECK (s.close_errno == EDEADLK);
  CHECK (s.debug == 0);

  /* The handle was not closed and still works. */
  CHECK (nbd_get_size (h) == 1 << 20);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));

  OK (nbd_shutdown (h, 0));
  nbd_close (h);

  /* The same from the debug callback, on a call that is not a command;
   * the refused setter changed nothing.
   */
  h = nbd_create ();
  CHECK (h != NULL);
  memset (&s, 0, sizeof s);
  s.h = h;
  OK (nbd_set_debug_callback (h, dcb));
  OK (nbd_set_debug (h, true));
  OK (nbd_set_export_name (h, "x"));
  OK (nbd_set_debug (h, false));
  CHECK (s.calls == 1);
  CHECK (s.size_errno == EDEADLK);
  name = nbd_get_handle_name (h);
  CHECK (name != NULL && strcmp (name, "inner") != 0);
  free (name);
  nbd_close (h);
  return end_test ();
}
