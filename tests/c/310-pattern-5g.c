/* Offsets past 4 GiB: `nbdkit pattern 5G` serves each 8-byte word's own
 * offset, so any truncation to 32 bits shows up as wrong data.
 */
#include "harness.h"

#define GiB (UINT64_C (1) << 30)

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "pattern", "5G", NULL };
  struct nbd_handle *h;
  static uint8_t buf[2 * 1024 * 1024];
  uint64_t offsets[] = {
    0, 4 * GiB - 4096, 4 * GiB - 1, 4 * GiB, 4 * GiB + 12345,
    5 * GiB - sizeof buf, 3 * GiB + 17,
  };
  size_t i;
  int64_t size;

  start_test ("310-pattern-5g", 300);
  h = connect_nbdkit (argv);
  size = nbd_get_size (h);
  CHECK (size == (int64_t) (5 * GiB));
  for (i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    size_t n = offsets[i] + sizeof buf > 5 * GiB ? 5 * GiB - offsets[i] : sizeof buf;
    OK (nbd_pread (h, buf, n, offsets[i], 0));
    check_pattern (buf, n, offsets[i]);
  }
  /* Reading past the end is refused before it is sent. */
  FAILS_WITH (nbd_pread (h, buf, 4096, 5 * GiB - 100, 0), EINVAL);
  nbd_close (h);
  return end_test ();
}
