/* libnbd(3) "Callback lifetimes": a closure with .callback == NULL and
 * .free set is valid for every callback kind ("no callback, but free this
 * user data"), and .free runs exactly once, when the command retires:
 * never inside the nbd_aio_* call that accepted it, and never before the
 * reply has been written into the buffer. Programs free the buffer of an
 * in-flight read in .free (valgrind would see a write into freed memory
 * if the library freed early).
 */
#include "harness.h"

static int frees, completions, chunks, extents;
static const char *order[16];
static size_t nr_order;

static void
note (const char *what)
{
  if (nr_order < sizeof order / sizeof order[0])
    order[nr_order++] = what;
}

static void
free_buffer (void *user_data)
{
  free (user_data);
  frees++;
  note ("free buffer");
}

static void
free_count (void *user_data)
{
  (void) user_data;
  frees++;
  note ("free");
}

static int other_frees;

static void
free_other (void *user_data)
{
  (void) user_data;
  other_frees++;
}

static void
free_chunk (void *user_data)
{
  (void) user_data;
  frees++;
  note ("free chunk");
}

static void
free_completion (void *user_data)
{
  (void) user_data;
  frees++;
  note ("free completion");
}

static int
chunk_cb (void *user_data, const void *subbuf, size_t count, uint64_t offset,
          unsigned status, int *error)
{
  (void) user_data; (void) subbuf; (void) count; (void) offset;
  (void) status; (void) error;
  chunks++;
  note ("chunk");
  return 0;
}

static int
completion_cb (void *user_data, int *error)
{
  (void) user_data; (void) error;
  completions++;
  note ("completion");
  return 0;
}

static void
wait_for (struct nbd_handle *h, int64_t cookie)
{
  while (nbd_aio_peek_command_completed (h) != cookie)
    OK (nbd_poll (h, 5000));
}

/* An aio read of `len` bytes into a new buffer that the completion
 * closure's .free releases; the closure has no function.
 */
static int64_t
read_into_freed_buffer (struct nbd_handle *h, size_t len)
{
  char *buf = malloc (len);
  int64_t cookie;

  CHECK (buf != NULL);
  cookie = nbd_aio_pread (h, buf, len, 0,
                          (nbd_completion_callback) { .callback = NULL,
                                                      .user_data = buf,
                                                      .free = free_buffer },
                          0);
  CHECK (cookie > 0);
  return cookie;
}

/* The command `cookie` was accepted; nothing it holds is freed when it
 * completes, and retiring it brings `frees` to `frees_retired`.
 */
static void
retire (struct nbd_handle *h, int64_t cookie, int frees_retired)
{
  int frees_accepted = frees;

  CHECK (cookie > 0);
  wait_for (h, cookie);
  /* Completed but not retired: still not freed. */
  CHECK (frees == frees_accepted);
  CHECK (nbd_aio_command_completed (h, cookie) == 1);
  CHECK (frees == frees_retired);
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  struct nbd_handle *h;
  int64_t cookie;
  char small[512];

  start_test ("630-closure-lifetime", 120);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_connect_command (h, argv));

  /* 1. The read's buffer is freed by the completion closure's .free;
   * the closure has no function. Nothing is freed inside the call.
   */
  cookie = read_into_freed_buffer (h, 65536);
  CHECK (frees == 0);
  retire (h, cookie, 1);

  /* 2. Mid-command and completion closures, both without functions:
   * freed at retirement, mid-command first.
   */
  nr_order = 0;
  cookie = nbd_aio_pread_structured (h, small, sizeof small, 0,
                                     (nbd_chunk_callback) { .free = free_chunk },
                                     (nbd_completion_callback) { .free = free_completion },
                                     0);
  CHECK (frees == 1);
  retire (h, cookie, 3);
  CHECK (nr_order == 2);
  CHECK (strcmp (order[0], "free chunk") == 0);
  CHECK (strcmp (order[1], "free completion") == 0);

  /* 3. With functions: callbacks, then the frees, at retirement. */
  nr_order = 0;
  cookie = nbd_aio_pread_structured (h, small, sizeof small, 0,
                                     (nbd_chunk_callback) { .callback = chunk_cb,
                                                            .free = free_chunk },
                                     (nbd_completion_callback) { .callback = completion_cb,
                                                                 .free = free_completion },
                                     0);
  retire (h, cookie, 5);
  CHECK (chunks >= 1 && completions == 1);
  CHECK (strcmp (order[nr_order - 3], "completion") == 0);
  CHECK (strcmp (order[nr_order - 2], "free chunk") == 0);
  CHECK (strcmp (order[nr_order - 1], "free completion") == 0);

  /* 4. A required closure (extent) with only .free is accepted, never
   * EFAULT; the other checks apply as usual.
   */
  OK (nbd_block_status (h, 65536, 0,
                        (nbd_extent_callback) { .free = free_count }, 0));
  CHECK (frees == 6 && extents == 0);
  FAILS_WITH (nbd_block_status (h, 65536, 2 * 1024 * 1024,
                                (nbd_extent_callback) { .free = free_count }, 0),
              EINVAL);
  CHECK (frees == 7);
  cookie = nbd_aio_block_status (h, 65536, 0,
                                 (nbd_extent_callback) { .free = free_count },
                                 NBD_NULL_COMPLETION, 0);
  CHECK (frees == 7);
  retire (h, cookie, 8);
  /* ... also when the call fails its checks: freed once, at once. */
  CHECK (nbd_aio_pread (h, small, sizeof small, 2 * 1024 * 1024,
                        (nbd_completion_callback) { .free = free_count }, 0) == -1);
  CHECK (nbd_get_errno () == EINVAL && frees == 9);
  /* The 64-bit extent closure the same (a sync call: freed on return). */
  OK (nbd_block_status_64 (h, 65536, 0,
                           (nbd_extent64_callback) { .free = free_other }, 0));
  CHECK (other_frees == 1 && frees == 9 && extents == 0);
  /* With a function: called, then freed when the call returns. */
  OK (nbd_block_status (h, 65536, 0,
                        (nbd_extent_callback) { .callback = count_extent_calls,
                                                .user_data = &extents,
                                                .free = free_count }, 0));
  CHECK (extents >= 1 && frees == 10);

  /* 5. A debug closure with only .free: freed when replaced. */
  OK (nbd_set_debug_callback (h, (nbd_debug_callback) { .free = free_count }));
  CHECK (frees == 10);
  OK (nbd_clear_debug_callback (h));
  CHECK (frees == 11);

  /* 6. Completed, never retired: close frees it, once. */
  cookie = read_into_freed_buffer (h, 4096);
  wait_for (h, cookie);
  CHECK (frees == 11);
  nbd_close (h);
  CHECK (frees == 12);

  /* 7. In flight at close: freed by close. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_command (h, argv));
  cookie = read_into_freed_buffer (h, 4096);
  CHECK (frees == 12);
  nbd_close (h);
  CHECK (frees == 13);

  /* 8. Opt mode: list and context closures with only .free. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_opt_mode (h, true));
  OK (nbd_connect_command (h, argv));
  CHECK (nbd_opt_list (h, (nbd_list_callback) { .free = free_count }) >= 0);
  CHECK (frees == 14);
  CHECK (nbd_opt_list_meta_context (h, (nbd_context_callback) { .free = free_count }) >= 0);
  CHECK (frees == 15);
  CHECK (nbd_opt_list_meta_context (h, (nbd_context_callback) { .callback = ignore_context,
                                                                .free = free_count }) >= 1);
  CHECK (frees == 16);
  OK (nbd_opt_abort (h));
  nbd_close (h);
  CHECK (frees == 16);
  return end_test ();
}
