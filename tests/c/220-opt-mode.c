/* Opt mode: list exports, ask for info on one, go to another; on a
 * second handle the aio forms complete through their completion
 * callbacks, then abort.
 */
/* scenarios: 210 230 240 250 */
#include "harness.h"

struct listing {
  int n;
  int has_a, has_b;
  int freed;
};

static int
list_cb (void *user_data, const char *name, const char *description)
{
  struct listing *l = user_data;
  (void) description;
  l->n++;
  if (strcmp (name, "a") == 0) l->has_a = 1;
  if (strcmp (name, "b") == 0) l->has_b = 1;
  return 0;
}

FREE_COUNTER (list_free, struct listing)

static int
record_error (void *user_data, int *error)
{
  *(int *) user_data = *error;
  return 1;
}

static int
context_cb (void *user_data, const char *name)
{
  int *n = user_data;
  (void) name;
  (*n)++;
  return 0;
}

int
main (void)
{
  /* nbdkit's eval plugin: two exports of different sizes. */
  char *argv[] = {
    "nbdkit", "-s", "--exit-with-parent", "eval",
    "list_exports=printf 'a\\nb\\n'",
    "open=echo \"$3\"",
    "get_size=case \"$2\" in a) echo 1048576;; b) echo 2097152;; *) echo 4096;; esac",
    "pread=dd if=/dev/zero bs=$3 count=1 status=none",
    NULL
  };
  struct nbd_handle *h;
  struct listing l = { 0 };
  nbd_list_callback lcb = { .callback = list_cb, .user_data = &l, .free = list_free };
  nbd_context_callback ccb = { .callback = context_cb };
  int contexts = 0;
  char *s;
  struct listing l2 = { 0 };
  int listed = -1, informed = -1;

  start_test ("220-opt-mode", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_opt_mode (h, true));
  CHECK (nbd_get_opt_mode (h) == 1);
  OK (nbd_set_full_info (h, true));
  OK (nbd_connect_command (h, argv));
  CHECK (nbd_aio_is_negotiating (h) == 1);

  /* A data call is refused while negotiating. */
  {
    char b[1];
    FAILS_WITH (nbd_pread (h, b, 1, 0, 0), EINVAL);
  }

  CHECK (nbd_opt_list (h, lcb) == 2);
  CHECK (l.n == 2 && l.has_a && l.has_b);
  CHECK (l.freed == 1);

  ccb.user_data = &contexts;
  CHECK (nbd_opt_list_meta_context (h, ccb) >= 1);
  CHECK (contexts >= 1);

  OK (nbd_set_export_name (h, "b"));
  OK (nbd_opt_info (h));
  CHECK (nbd_get_size (h) == 2097152);
  CHECK (nbd_aio_is_negotiating (h) == 1);

  OK (nbd_set_export_name (h, "a"));
  OK (nbd_opt_go (h));
  CHECK (nbd_aio_is_ready (h) == 1);
  CHECK (nbd_get_size (h) == 1048576);
  s = nbd_get_canonical_export_name (h);
  CHECK (s != NULL);
  free (s);
  nbd_close (h);

  /* opt_abort ends the negotiation cleanly. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_opt_mode (h, true));
  OK (nbd_connect_command (h, argv));
  CHECK (nbd_aio_opt_list (h,
                           (nbd_list_callback) { .callback = list_cb, .user_data = &l2,
                                                 .free = list_free },
                           (nbd_completion_callback) { .callback = record_error,
                                                       .user_data = &listed }) == 0);
  while (listed == -1)
    OK (nbd_poll (h, 5000));
  CHECK (listed == 0 && l2.n == 2 && l2.has_a && l2.has_b);
  OK (nbd_set_export_name (h, "b"));
  CHECK (nbd_aio_opt_info (h, (nbd_completion_callback) { .callback = record_error,
                                                          .user_data = &informed }) == 0);
  while (informed == -1)
    OK (nbd_poll (h, 5000));
  CHECK (informed == 0 && nbd_get_size (h) == 2097152);
  CHECK (nbd_aio_is_negotiating (h) == 1);
  OK (nbd_opt_abort (h));
  CHECK (nbd_aio_is_closed (h) == 1);
  FAILS_WITH (nbd_opt_go (h), EINVAL);
  nbd_close (h);
  CHECK (l2.freed == 1);
  return end_test ();
}
