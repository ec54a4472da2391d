/* Callback lifetimes (libnbd(3) "Callback lifetimes" and ".callback=NULL,
 * .free!=NULL"): when callbacks run and when their free functions run,
 * relative to the calls that retire commands.
 */
#include "trace.h"

static const char *argv_memory[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };

static void
say_free (void *user_data)
{
  SAY ("  free %s", (const char *) user_data);
}

static void
free_buffer (void *user_data)
{
  free (user_data);
  SAY ("  free buffer");
}

static int
chunk_cb (void *user_data, const void *subbuf, size_t count, uint64_t offset,
          unsigned status, int *error)
{
  (void) subbuf; (void) error;
  SAY ("  %s: offset=%" PRIu64 " count=%zu status=%u", (const char *) user_data,
       offset, count, status);
  return 0;
}

static int
completion_cb (void *user_data, int *error)
{
  SAY ("  %s: error=%s", (const char *) user_data, errno_name (*error));
  return 0;
}

static int
retiring_cb (void *user_data, int *error)
{
  SAY ("  %s: error=%s (retire)", (const char *) user_data, errno_name (*error));
  return 1;
}

static int
extent_cb (void *user_data, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr, int *error)
{
  (void) entries; (void) error;
  SAY ("  %s: %s offset=%" PRIu64 " nr=%zu", (const char *) user_data,
       metacontext, offset, nr);
  return 0;
}

static void
wait_for (struct nbd_handle *h, int64_t cookie)
{
  while (nbd_aio_peek_command_completed (h) != cookie)
    if (nbd_poll (h, 5000) == -1) {
      SAY ("poll failed");
      exit (1);
    }
  SAY ("  (completed)");
}

/* A structured read of 1024 bytes into `small` whose chunk and
 * completion closures carry "chunk" and "completion" and free them with
 * say_free; `chunk_fn` and `completion_fn` may be NULL. Returns the
 * cookie.
 */
static int64_t
read_structured (struct nbd_handle *h, char *small,
                 int (*chunk_fn) (void *, const void *, size_t, uint64_t,
                                  unsigned, int *),
                 int (*completion_fn) (void *, int *))
{
  int64_t c;

  T_COOKIE (c, nbd_aio_pread_structured (h, small, 1024, 0,
                                         (nbd_chunk_callback) { .callback = chunk_fn,
                                                                .user_data = "chunk",
                                                                .free = say_free },
                                         (nbd_completion_callback) { .callback = completion_fn,
                                                                     .user_data = "completion",
                                                                     .free = say_free },
                                         0));
  return c;
}

int
main (void)
{
  struct nbd_handle *h;
  int64_t c;
  char small[4096];
  char *buf;

  start (60);
  h = nbd_create ();
  T (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  T (nbd_connect_command (h, (char **) argv_memory));

  SAY ("-- completion without a function frees the buffer at retirement");
  buf = malloc (65536);
  T_COOKIE (c, nbd_aio_pread (h, buf, 65536, 0,
                              (nbd_completion_callback) { .user_data = buf,
                                                          .free = free_buffer },
                              0));
  wait_for (h, c);
  T (nbd_aio_command_completed (h, c));

  SAY ("-- chunk and completion, both with and without functions");
  c = read_structured (h, small, NULL, NULL);
  wait_for (h, c);
  T (nbd_aio_command_completed (h, c));
  c = read_structured (h, small, chunk_cb, completion_cb);
  wait_for (h, c);
  T (nbd_aio_command_completed (h, c));
  c = read_structured (h, small, chunk_cb, retiring_cb);
  SAY ("  (polling)");
  while (nbd_aio_in_flight (h) > 0)
    nbd_poll (h, 5000);
  T (nbd_aio_command_completed (h, c));

  SAY ("-- extent closures");
  T (nbd_block_status (h, 65536, 0,
                       (nbd_extent_callback) { .user_data = "extent", .free = say_free }, 0));
  T (nbd_block_status (h, 65536, 0,
                       (nbd_extent_callback) { .callback = extent_cb, .user_data = "extent",
                                               .free = say_free }, 0));
  T (nbd_block_status (h, 65536, 2 * 1024 * 1024,
                       (nbd_extent_callback) { .user_data = "extent", .free = say_free }, 0));
  T (nbd_block_status (h, 65536, 0, (nbd_extent_callback) { .callback = NULL }, 0));
  T_COOKIE (c, nbd_aio_block_status (h, 65536, 0,
                                     (nbd_extent_callback) { .user_data = "extent",
                                                             .free = say_free },
                                     (nbd_completion_callback) { .user_data = "completion",
                                                                 .free = say_free },
                                     0));
  wait_for (h, c);
  T (nbd_aio_command_completed (h, c));

  SAY ("-- a call that fails its checks frees at once");
  T (nbd_aio_pread (h, small, 512, 2 * 1024 * 1024,
                    (nbd_completion_callback) { .user_data = "completion", .free = say_free },
                    0));
  T (nbd_aio_flush (h, (nbd_completion_callback) { .user_data = "completion",
                                                   .free = say_free },
                    0x10000));

  SAY ("-- debug closure without a function");
  T (nbd_set_debug_callback (h, (nbd_debug_callback) { .user_data = "debug", .free = say_free }));
  T (nbd_clear_debug_callback (h));

  SAY ("-- completed, not retired, then close");
  T_COOKIE (c, nbd_aio_pread (h, small, 512, 0,
                              (nbd_completion_callback) { .user_data = "completion",
                                                          .free = say_free },
                              0));
  wait_for (h, c);
  SAY ("  (close)");
  nbd_close (h);

  SAY ("-- in flight at close");
  h = nbd_create ();
  T (nbd_connect_command (h, (char **) argv_memory));
  T_COOKIE (c, nbd_aio_pread (h, small, 512, 0,
                              (nbd_completion_callback) { .callback = completion_cb,
                                                          .user_data = "completion",
                                                          .free = say_free },
                              0));
  SAY ("  (close)");
  nbd_close (h);

  SAY ("-- opt mode closures without functions");
  h = nbd_create ();
  T (nbd_set_opt_mode (h, true));
  T (nbd_connect_command (h, (char **) argv_memory));
  T (nbd_opt_list (h, (nbd_list_callback) { .user_data = "list", .free = say_free }));
  T (nbd_opt_list_meta_context (h, (nbd_context_callback) { .user_data = "context",
                                                            .free = say_free }));
  T (nbd_opt_abort (h));
  nbd_close (h);
  return 0;
}
