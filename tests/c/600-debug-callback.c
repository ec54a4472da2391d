/* The debug callback receives the library's debug messages with the
 * call name as context; clearing it or closing the handle frees it once.
 */
#include "harness.h"

struct dbg {
  int messages;
  int saw_connect;
  int freed;
};

static int
debug_cb (void *user_data, const char *context, const char *msg)
{
  struct dbg *d = user_data;
  CHECK (context != NULL && msg != NULL);
  d->messages++;
  if (strcmp (context, "nbd_connect_command") == 0)
    d->saw_connect = 1;
  return 0;
}

FREE_COUNTER (debug_free, struct dbg)

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct nbd_handle *h;
  struct dbg d1 = { 0 }, d2 = { 0 };
  nbd_debug_callback cb1 = { .callback = debug_cb, .user_data = &d1, .free = debug_free };
  nbd_debug_callback cb2 = { .callback = debug_cb, .user_data = &d2, .free = debug_free };
  char buf[512];

  start_test ("600-debug-callback", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_debug_callback (h, cb1));
  OK (nbd_set_debug (h, true));
  CHECK (nbd_get_debug (h) == 1);
  OK (nbd_connect_command (h, argv));
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  CHECK (d1.messages > 0 && d1.saw_connect);
  CHECK (d1.freed == 0);

  /* Replacing the callback frees the old one. */
  OK (nbd_set_debug_callback (h, cb2));
  CHECK (d1.freed == 1);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  CHECK (d2.messages > 0);
  OK (nbd_clear_debug_callback (h));
  CHECK (d2.freed == 1);

  /* With debugging off, nothing is delivered. */
  d1.freed = 0;
  OK (nbd_set_debug_callback (h, cb1));
  OK (nbd_set_debug (h, false));
  d1.messages = 0;
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  CHECK (d1.messages == 0);
  nbd_close (h);
  CHECK (d1.freed == 1);
  return end_test ();
}
