/* A callback that returns -1 fails its command: with the errno it stored
 * in *error, or EPROTO when it stored none; a completion callback sees
 * the failure; the handle stays connected and the next command works.
 */
#include "harness.h"

static int
failing_extent (void *user_data, const char *metacontext, uint64_t offset,
                uint32_t *entries, size_t nr, int *error)
{
  int *set = user_data;

  (void) metacontext; (void) offset; (void) entries; (void) nr;
  if (*set)
    *error = *set;
  return -1;
}

static int
failing_chunk (void *user_data, const void *subbuf, size_t count,
               uint64_t offset, unsigned status, int *error)
{
  (void) user_data; (void) subbuf; (void) count; (void) offset; (void) status;
  *error = EXDEV;
  return -1;
}

static int
record_error (void *user_data, int *error)
{
  *(int *) user_data = *error;
  return 1;
}

int
main (void)
{
  char *argv[] = {
    "nbdkit", "-s", "--exit-with-parent", "data", "@4096 1 2 3", "size=1M", NULL
  };
  struct nbd_handle *h;
  char buf[512];
  int set, seen = -1;

  start_test ("610-callback-error", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_connect_command (h, argv));

  set = EXDEV;
  FAILS_WITH (nbd_block_status (h, 65536, 0,
                                (nbd_extent_callback) { .callback = failing_extent,
                                                        .user_data = &set }, 0),
              EXDEV);
  set = 0;
  FAILS_WITH (nbd_block_status (h, 65536, 0,
                                (nbd_extent_callback) { .callback = failing_extent,
                                                        .user_data = &set }, 0),
              EPROTO);
  FAILS_WITH (nbd_pread_structured (h, buf, sizeof buf, 4096,
                                    (nbd_chunk_callback) { .callback = failing_chunk }, 0),
              EXDEV);

  /* The aio form: the completion callback is told the callback's errno. */
  set = EXDEV;
  CHECK (nbd_aio_block_status (h, 65536, 0,
                               (nbd_extent_callback) { .callback = failing_extent,
                                                       .user_data = &set },
                               (nbd_completion_callback) { .callback = record_error,
                                                           .user_data = &seen }, 0) > 0);
  while (seen == -1 && nbd_aio_in_flight (h) > 0)
    OK (nbd_poll (h, 5000));
  CHECK (seen == EXDEV);

  /* The connection is still good. */
  CHECK (nbd_aio_is_ready (h) == 1);
  OK (nbd_pread (h, buf, sizeof buf, 4096, 0));
  CHECK (buf[0] == 1 && buf[1] == 2 && buf[2] == 3);
  nbd_close (h);
  return end_test ();
}
