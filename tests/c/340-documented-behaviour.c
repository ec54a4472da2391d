/* Documented behaviour of libnbd(3) and the call pages, each a class the
 * drop-in issue named:
 *  - nbd_can_meta_context is 0, not an error, when no context was
 *    requested or the server cannot negotiate contexts;
 *  - nbd_pread clears the buffer before any failure (pread_initialize);
 *  - nbd_aio_notify_read/write refuse an event the handle does not wait
 *    for;
 *  - a second nbd_aio_disconnect and new commands after it are EINVAL;
 *  - opt mode against a server that is not fixed newstyle.
 */
/* scenarios: 702 */
#include "harness.h"

static char debug_log[65536];

static int
debug_cb (void *user_data, const char *context, const char *msg)
{
  (void) user_data; (void) context;
  if (strlen (debug_log) + strlen (msg) + 2 < sizeof debug_log) {
    strcat (debug_log, msg);
    strcat (debug_log, "\n");
  }
  return 0;
}

static int list_frees;

static void
count_free (void *user_data)
{
  (void) user_data;
  list_frees++;
}

static int
all_bytes (const char *buf, size_t len, int c)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (buf[i] != (char) c)
      return 0;
  return 1;
}

int
main (void)
{
  char *memory[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  char *oldstyle[] = { "nbdkit", "-s", "--exit-with-parent", "--oldstyle", "memory", "1M", NULL };
  char *plain[] = { "nbdkit", "-s", "--exit-with-parent", "--mask-handshake=0", "memory", "1M", NULL };
  struct nbd_handle *h;
  char buf[512];
  const char *err;

  start_test ("340-documented-behaviour", 120);

  /* can_meta_context: nothing requested -> 0. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_command (h, memory));
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0);
  nbd_close (h);
  /* Requested, but the server is oldstyle -> 0. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_connect_command (h, oldstyle));
  CHECK (strcmp (nbd_get_protocol (h), "oldstyle") == 0);
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0);
  nbd_close (h);
  /* Requested, but no structured replies -> 0. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_set_request_structured_replies (h, false));
  OK (nbd_connect_command (h, memory));
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0);
  nbd_close (h);

  /* pread clears the buffer before failing, even before connecting. */
  h = nbd_create ();
  CHECK (h != NULL);
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), ENOTCONN);
  CHECK (all_bytes (buf, sizeof buf, 0));
  memset (buf, 0xaa, sizeof buf);
  CHECK (nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0) == -1);
  CHECK (all_bytes (buf, sizeof buf, 0));
  OK (nbd_connect_command (h, memory));
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 2 * 1024 * 1024, 0), EINVAL);
  CHECK (all_bytes (buf, sizeof buf, 0));
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread_structured (h, buf, sizeof buf, 0,
                                    (nbd_chunk_callback) { .callback = NULL },
                                    0), EFAULT);
  /* ... unless pread_initialize is off. */
  OK (nbd_set_pread_initialize (h, false));
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 2 * 1024 * 1024, 0), EINVAL);
  CHECK (all_bytes (buf, sizeof buf, 0xaa));
  OK (nbd_set_pread_initialize (h, true));

  /* Notifications for a direction the handle does not wait for. */
  CHECK (nbd_aio_get_direction (h) == LIBNBD_AIO_DIRECTION_READ);
  FAILS_WITH (nbd_aio_notify_write (h), EINVAL);
  CHECK (nbd_aio_is_ready (h));

  /* A second disconnect, and commands after the first, are EINVAL. */
  OK (nbd_aio_disconnect (h, 0));
  FAILS_WITH (nbd_aio_disconnect (h, 0), EINVAL);
  err = nbd_get_error ();
  CHECK (err != NULL && strstr (err, "disconnecting") != NULL);
  FAILS_WITH (nbd_aio_flush (h, NBD_NULL_COMPLETION, 0), EINVAL);
  err = nbd_get_error ();
  CHECK (err != NULL && strstr (err, "disconnecting") != NULL);
  /* nbd_shutdown after nbd_aio_disconnect just waits for the end. */
  OK (nbd_shutdown (h, 0));
  nbd_close (h);

  /* Opt mode against a server that is not fixed newstyle: the handle
   * stops negotiating; options other than go/abort are ENOTSUP and free
   * their closures; nothing may be read or written meanwhile.
   */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_debug (h, true));
  OK (nbd_set_debug_callback (h, (nbd_debug_callback) { .callback = debug_cb }));
  OK (nbd_set_opt_mode (h, true));
  OK (nbd_connect_command (h, plain));
  CHECK (nbd_aio_is_negotiating (h));
  CHECK (strcmp (nbd_get_protocol (h), "newstyle") == 0);
  /* libnbd reports the client flags it really sent (none here). */
  CHECK (strstr (debug_log, "sent=0x0") != NULL);
  FAILS_WITH (nbd_aio_notify_read (h), EINVAL);
  FAILS_WITH (nbd_opt_list (h, (nbd_list_callback) { .callback = ignore_export,
                                                     .free = count_free }),
              ENOTSUP);
  CHECK (list_frees == 1);
  FAILS_WITH (nbd_opt_info (h), ENOTSUP);
  CHECK (nbd_aio_is_negotiating (h));
  OK (nbd_opt_go (h));
  CHECK (nbd_aio_is_ready (h));
  CHECK (nbd_get_size (h) == 1024 * 1024);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  nbd_close (h);
  /* ... and opt_abort leaves it dead. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_opt_mode (h, true));
  OK (nbd_connect_command (h, plain));
  CHECK (nbd_aio_is_negotiating (h));
  OK (nbd_opt_abort (h));
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);

  return end_test ();
}
