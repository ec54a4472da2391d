/* Block status on a sparse disk: nbdkit data with data at two places and
 * holes elsewhere. Both the 32-bit and the 64-bit callbacks see the same
 * extents, and the callback's free runs once.
 */
/* scenarios: 465 */
#include "harness.h"

struct seen {
  uint64_t data_bytes, hole_bytes;
  int calls;
  int freed;
};

/* One base:allocation extent, counted as data or as a hole. */
static void
count_extent (struct seen *s, uint64_t length, uint64_t flags)
{
  if (flags & LIBNBD_STATE_HOLE)
    s->hole_bytes += length;
  else
    s->data_bytes += length;
}

static int
extent32 (void *user_data, const char *metacontext, uint64_t offset,
          uint32_t *entries, size_t nr, int *error)
{
  struct seen *s = user_data;
  size_t i;
  (void) offset; (void) error;
  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  CHECK (nr % 2 == 0);
  s->calls++;
  for (i = 0; i < nr; i += 2)
    count_extent (s, entries[i], entries[i + 1]);
  return 0;
}

static int
extent64 (void *user_data, const char *metacontext, uint64_t offset,
          nbd_extent *entries, size_t nr, int *error)
{
  struct seen *s = user_data;
  size_t i;
  (void) offset; (void) error;
  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  s->calls++;
  for (i = 0; i < nr; i++)
    count_extent (s, entries[i].length, entries[i].flags);
  return 0;
}

FREE_COUNTER (seen_free, struct seen)

int
main (void)
{
  char *argv[] = {
    "nbdkit", "-s", "--exit-with-parent", "data",
    "@65536 1 2 3 @1048576 4 5 6", "size=4M", NULL
  };
  struct nbd_handle *h;
  struct seen s32 = { 0 }, s64 = { 0 };
  nbd_extent_callback cb32 = { .callback = extent32, .user_data = &s32, .free = seen_free };
  nbd_extent64_callback cb64 = { .callback = extent64, .user_data = &s64, .free = seen_free };
  const uint64_t size = 4 * 1024 * 1024;

  start_test ("460-block-status", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_connect_command (h, argv));
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1);

  /* The server may describe only a prefix of the range. */
  OK (nbd_block_status (h, size, 0, cb32, 0));
  CHECK (s32.calls >= 1 && s32.freed == 1);
  CHECK (s32.data_bytes > 0 && s32.hole_bytes > 0);
  CHECK (s32.data_bytes + s32.hole_bytes <= size);

  OK (nbd_block_status_64 (h, size, 0, cb64, 0));
  CHECK (s64.calls >= 1 && s64.freed == 1);
  CHECK (s64.data_bytes == s32.data_bytes && s64.hole_bytes == s32.hole_bytes);

  /* REQ_ONE asks for a single extent. */
  s32.calls = 0; s32.data_bytes = s32.hole_bytes = 0;
  OK (nbd_block_status (h, size, 0, cb32, LIBNBD_CMD_FLAG_REQ_ONE));
  CHECK (s32.calls == 1 && s32.freed == 2);
  CHECK (s32.hole_bytes > 0 && s32.hole_bytes <= 65536 && s32.data_bytes == 0);
  nbd_close (h);
  return end_test ();
}
