/* NULL where a pointer is required is EFAULT, never a crash; and a
 * callback's free function runs exactly once on every path: a required
 * callback without a function (valid when it has a free function), a
 * call that fails its checks, and a callback the library never calls.
 */
/* scenarios: 630 */
#include "harness.h"

static int calls, frees;

static int
completion (void *user_data, int *error)
{
  (void) user_data; (void) error;
  calls++;
  return 1;
}

static int
extent (void *user_data, const char *metacontext, uint64_t offset,
        uint32_t *entries, size_t nr, int *error)
{
  (void) user_data; (void) metacontext; (void) offset; (void) entries; (void) nr; (void) error;
  calls++;
  return 0;
}

static void
free_it (void *user_data)
{
  CHECK (user_data == &frees);
  frees++;
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  /* volatile: keep the compiler from proving these NULL (the header's
   * nonnull attributes would turn that into a warning).
   */
  struct nbd_handle *volatile nullh = NULL;
  char *volatile nullstr = NULL;
  char **volatile nullargv = NULL;
  void *volatile nullbuf = NULL;
  struct nbd_handle *h;
  nbd_completion_callback ccb = { .callback = completion, .user_data = &frees, .free = free_it };
  nbd_extent_callback ecb = { .callback = extent, .user_data = &frees, .free = free_it };
  nbd_extent_callback no_fn = { .callback = NULL, .user_data = &frees, .free = free_it };
  char buf[512];

  start_test ("550-null-and-free", 60);
  FAILS_WITH (nbd_get_size (nullh), EFAULT);
  FAILS_WITH (nbd_set_export_name (nullh, "x"), EFAULT);
  CHECK (nbd_get_export_name (nullh) == NULL && nbd_get_errno () == EFAULT);
  CHECK (nbd_get_debug (nullh) == -1 || nbd_get_debug (nullh) == 0);
  nbd_close (nullh);

  h = nbd_create ();
  CHECK (h != NULL);
  FAILS_WITH (nbd_set_export_name (h, nullstr), EFAULT);
  FAILS_WITH (nbd_connect_command (h, nullargv), EFAULT);
  FAILS_WITH (nbd_connect_unix (h, nullstr), EFAULT);

  /* A failing call frees its callback, once, without calling it. */
  FAILS_WITH (nbd_aio_flush (h, ccb, 0), ENOTCONN);
  CHECK (frees == 1 && calls == 0);
  FAILS_WITH (nbd_block_status (h, 512, 0, ecb, 0), ENOTCONN);
  CHECK (frees == 2 && calls == 0);
  /* A required callback with no function but a free is a valid closure
   * (libnbd(3)): the usual checks apply (not connected), freed once.
   */
  FAILS_WITH (nbd_block_status (h, 512, 0, no_fn, 0), ENOTCONN);
  CHECK (frees == 3 && calls == 0);
  /* Neither function nor free: that is a NULL closure, EFAULT. */
  FAILS_WITH (nbd_block_status (h, 512, 0, (nbd_extent_callback) { .callback = NULL }, 0),
              EFAULT);
  /* A NULL handle frees the callback too. */
  FAILS_WITH (nbd_aio_flush (nullh, ccb, 0), EFAULT);
  CHECK (frees == 4 && calls == 0);

  OK (nbd_connect_command (h, argv));
  FAILS_WITH (nbd_pread (h, nullbuf, sizeof buf, 0, 0), EFAULT);
  FAILS_WITH (nbd_pwrite (h, nullbuf, sizeof buf, 0, 0), EFAULT);
  CHECK (nbd_aio_pread (h, nullbuf, sizeof buf, 0, ccb, 0) == -1);
  CHECK (nbd_get_errno () == EFAULT && frees == 5 && calls == 0);
  /* Checks that fail after connecting free as well. */
  CHECK (nbd_aio_pread (h, buf, sizeof buf, 1024 * 1024, ccb, 0) == -1);
  CHECK (nbd_get_errno () == EINVAL && frees == 6 && calls == 0);

  /* A command that runs: called once, then freed once. */
  CHECK (nbd_aio_pread (h, buf, sizeof buf, 0, ccb, 0) > 0);
  while (calls == 0)
    OK (nbd_poll (h, 5000));
  CHECK (calls == 1 && frees == 7);

  /* A callback still pending when the handle closes is freed by close. */
  CHECK (nbd_aio_pread (h, buf, sizeof buf, 0, ccb, 0) > 0);
  nbd_close (h);
  CHECK (frees == 8);
  return end_test ();
}
