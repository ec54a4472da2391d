/* Trim, zero (with NO_HOLE and FAST_ZERO), flush and cache, blocking and
 * aio, on a RAM disk: trimmed and zeroed ranges read back as zeroes.
 */
#include "harness.h"

static int
is_zero (const uint8_t *buf, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (buf[i]) return 0;
  return 1;
}

static void
wait_for (struct nbd_handle *h, int64_t cookie)
{
  CHECK (cookie > 0);
  while (nbd_aio_command_completed (h, cookie) == 0)
    OK (nbd_poll (h, 5000));
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "4M", NULL };
  struct nbd_handle *h;
  static uint8_t buf[65536];

  start_test ("330-trim-zero-flush-cache", 60);
  h = connect_nbdkit (argv);
  CHECK (nbd_can_trim (h) == 1);
  CHECK (nbd_can_zero (h) == 1);
  CHECK (nbd_can_flush (h) == 1);
  CHECK (nbd_can_cache (h) == 1);

  memset (buf, 0xff, sizeof buf);
  OK (nbd_pwrite (h, buf, sizeof buf, 0, 0));
  OK (nbd_trim (h, sizeof buf, 0, 0));
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  CHECK (is_zero (buf, sizeof buf));

  memset (buf, 0xff, sizeof buf);
  OK (nbd_pwrite (h, buf, sizeof buf, 65536, 0));
  OK (nbd_zero (h, 4096, 65536 + 4096, LIBNBD_CMD_FLAG_NO_HOLE));
  OK (nbd_pread (h, buf, sizeof buf, 65536, 0));
  CHECK (buf[4095] == 0xff && is_zero (buf + 4096, 4096) && buf[8192] == 0xff);
  if (nbd_can_fast_zero (h) == 1)
    OK (nbd_zero (h, 4096, 0, LIBNBD_CMD_FLAG_FAST_ZERO));

  OK (nbd_flush (h, 0));
  OK (nbd_cache (h, sizeof buf, 0, 0));

  /* The same through aio. */
  memset (buf, 0x11, sizeof buf);
  wait_for (h, nbd_aio_pwrite (h, buf, sizeof buf, 131072, NBD_NULL_COMPLETION, 0));
  wait_for (h, nbd_aio_trim (h, 4096, 131072, NBD_NULL_COMPLETION, 0));
  wait_for (h, nbd_aio_zero (h, 4096, 131072 + 8192, NBD_NULL_COMPLETION, 0));
  wait_for (h, nbd_aio_flush (h, NBD_NULL_COMPLETION, 0));
  wait_for (h, nbd_aio_cache (h, 4096, 0, NBD_NULL_COMPLETION, 0));
  OK (nbd_pread (h, buf, sizeof buf, 131072, 0));
  CHECK (is_zero (buf, 4096) && buf[4096] == 0x11 && is_zero (buf + 8192, 4096) && buf[12288] == 0x11);
  nbd_close (h);
  return end_test ();
}
