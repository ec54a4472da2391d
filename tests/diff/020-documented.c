/* Documented behaviour the drop-in issue named, where libnbd 1.14 has
 * the calls: can_meta_context without contexts, read buffers cleared
 * before failures, notifications for the wrong direction, disconnecting
 * twice, and opt mode against a server that is not fixed newstyle.
 */
#include "trace.h"

static const char *memory[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
static const char *oldstyle[] = { "nbdkit", "-s", "--exit-with-parent", "--oldstyle", "memory", "1M", NULL };
static const char *plain[] = { "nbdkit", "-s", "--exit-with-parent", "--mask-handshake=0", "memory", "1M", NULL };

static void
say_free (void *user_data)
{
  SAY ("  free %s", (const char *) user_data);
}

static int
list_cb (void *user_data, const char *name, const char *description)
{
  (void) user_data; (void) name; (void) description;
  SAY ("  list");
  return 0;
}

#define BUF_STATE(buf) SAY ("  buffer %s", all_bytes (buf, sizeof buf, 0) ? "cleared" : \
                            all_bytes (buf, sizeof buf, 0xaa) ? "untouched" : "changed")

int
main (void)
{
  struct nbd_handle *h;
  char buf[512];

  start (60);

  SAY ("-- can_meta_context");
  h = nbd_create ();
  T (nbd_connect_command (h, (char **) memory));
  T (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  nbd_close (h);
  h = nbd_create ();
  T (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  T (nbd_connect_command (h, (char **) oldstyle));
  T (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  nbd_close (h);
  h = nbd_create ();
  T (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  T (nbd_set_request_structured_replies (h, false));
  T (nbd_connect_command (h, (char **) memory));
  T (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  nbd_close (h);
  h = nbd_create ();
  T (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  T (nbd_connect_command (h, (char **) memory));
  T (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  T (nbd_can_meta_context (h, "qemu:nothing"));
  nbd_close (h);

  SAY ("-- read buffers are cleared before any failure");
  h = nbd_create ();
  memset (buf, 0xaa, sizeof buf);
  T (nbd_pread (h, buf, sizeof buf, 0, 0));
  BUF_STATE (buf);
  memset (buf, 0xaa, sizeof buf);
  T (nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0));
  BUF_STATE (buf);
  T (nbd_connect_command (h, (char **) memory));
  memset (buf, 0xaa, sizeof buf);
  T (nbd_pread (h, buf, sizeof buf, 2 * 1024 * 1024, 0));
  BUF_STATE (buf);
  memset (buf, 0xaa, sizeof buf);
  T (nbd_pread (h, buf, sizeof buf, 0, 0x10000));
  BUF_STATE (buf);
  memset (buf, 0xaa, sizeof buf);
  T (nbd_pread_structured (h, buf, sizeof buf, 0, (nbd_chunk_callback) { .callback = NULL }, 0));
  BUF_STATE (buf);
  T (nbd_set_pread_initialize (h, false));
  memset (buf, 0xaa, sizeof buf);
  T (nbd_pread (h, buf, sizeof buf, 2 * 1024 * 1024, 0));
  BUF_STATE (buf);
  T (nbd_set_pread_initialize (h, true));

  SAY ("-- notifications");
  T (nbd_aio_get_direction (h));
  T (nbd_aio_notify_write (h));
  T (nbd_aio_is_ready (h));

  SAY ("-- disconnecting");
  T (nbd_aio_disconnect (h, 0));
  T (nbd_aio_disconnect (h, 0));
  T (nbd_aio_flush (h, NBD_NULL_COMPLETION, 0));
  T (nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0));
  T (nbd_shutdown (h, 0));
  T (nbd_aio_is_closed (h) || nbd_aio_is_dead (h));
  T (nbd_pread (h, buf, sizeof buf, 0, 0));
  nbd_close (h);

  SAY ("-- opt mode, plain newstyle server");
  h = nbd_create ();
  T (nbd_set_opt_mode (h, true));
  T (nbd_connect_command (h, (char **) plain));
  T (nbd_aio_is_negotiating (h));
  SAY ("  protocol %s", nbd_get_protocol (h));
  T (nbd_aio_get_direction (h));
  T (nbd_aio_notify_read (h));
  T (nbd_opt_list (h, (nbd_list_callback) { .callback = list_cb, .user_data = "list",
                                            .free = say_free }));
  T (nbd_opt_info (h));
  T (nbd_opt_list_meta_context (h, (nbd_context_callback) { .user_data = "context",
                                                            .free = say_free }));
  T (nbd_aio_is_negotiating (h));
  T (nbd_opt_go (h));
  T (nbd_aio_is_ready (h));
  T (nbd_get_size (h));
  T (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  nbd_close (h);
  h = nbd_create ();
  T (nbd_set_opt_mode (h, true));
  T (nbd_connect_command (h, (char **) plain));
  T (nbd_opt_abort (h));
  T (nbd_aio_is_dead (h));
  T (nbd_opt_go (h));
  nbd_close (h);
  return 0;
}
