/* pwrite then pread round trips, at odd offsets and sizes, with FUA,
 * and the byte counters move.
 */
/* scenarios: 320 620 */
#include "harness.h"

struct chunks {
  size_t bytes;
  int freed;
};

static int
chunk (void *user_data, const void *subbuf, size_t count, uint64_t offset,
       unsigned status, int *error)
{
  struct chunks *c = user_data;
  (void) subbuf; (void) offset; (void) error;
  if (status == LIBNBD_READ_DATA || status == LIBNBD_READ_HOLE)
    c->bytes += count;
  return 0;
}

FREE_COUNTER (chunk_free, struct chunks)

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "16M", NULL };
  struct nbd_handle *h;
  static uint8_t buf[1024 * 1024], back[1024 * 1024];
  size_t sizes[] = { 1, 511, 512, 4096, 65537, sizeof buf };
  uint64_t offsets[] = { 0, 1, 4095, 1234567, 16 * 1024 * 1024 - sizeof buf };
  size_t i, j, k;

  start_test ("300-pread-pwrite", 120);
  h = connect_nbdkit (argv);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (j = 0; j < sizeof offsets / sizeof offsets[0]; j++) {
      for (k = 0; k < sizes[i]; k++)
        buf[k] = (uint8_t) (k * 7 + i + j);
      OK (nbd_pwrite (h, buf, sizes[i], offsets[j],
                      (i & 1) && nbd_can_fua (h) ? LIBNBD_CMD_FLAG_FUA : 0));
      memset (back, 0, sizes[i]);
      OK (nbd_pread (h, back, sizes[i], offsets[j], 0));
      if (memcmp (buf, back, sizes[i]) != 0)
        fail ("round trip of %zu bytes at %" PRIu64 " differs", sizes[i], offsets[j]);
    }
  CHECK (nbd_stats_bytes_sent (h) > nbd_stats_chunks_sent (h));
  CHECK (nbd_stats_bytes_received (h) > 0);

  /* pread_structured shows each chunk to a callback, then frees it. */
  {
    struct chunks c = { 0 };
    nbd_chunk_callback cb = { .callback = chunk, .user_data = &c, .free = chunk_free };
    OK (nbd_pread_structured (h, back, 65536, 0, cb, 0));
    CHECK (c.bytes == 65536);
    CHECK (c.freed == 1);
  }
  nbd_close (h);
  return end_test ();
}
