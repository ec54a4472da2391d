/* Errors and errnos: state, enum and flag checks, strict mode, and
 * errors the server sends back.
 */
/* scenarios: 130 500 530 */
#include "harness.h"

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  char *argv_err[] = {
    "nbdkit", "-s", "--exit-with-parent", "--filter=error", "memory", "1M",
    "error-pread=EIO", "error-pread-rate=100%", NULL
  };
  char *argv_notrim[] = {
    "nbdkit", "-s", "--exit-with-parent", "--filter=nozero", "--filter=nocache",
    "null", "1M", "zeromode=none", "cachemode=none", NULL
  };
  struct nbd_handle *h;
  char buf[512];
  uint32_t strict;

  start_test ("510-strict-errors", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  /* Not connected yet. */
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), ENOTCONN);
  CHECK (strstr (nbd_get_error (), "nbd_pread") != NULL);
  /* Unknown enum values and flags. */
  FAILS_WITH (nbd_set_tls (h, 99), EINVAL);
  FAILS_WITH (nbd_set_strict_mode (h, 0x80000000), EINVAL);
  FAILS_WITH (nbd_set_handshake_flags (h, 0x100), EINVAL);
  FAILS_WITH (nbd_get_meta_context (h, 5) == NULL ? -1 : 0, EINVAL);

  OK (nbd_connect_command (h, argv));
  /* Wrong state: the export name is fixed once connected. */
  FAILS_WITH (nbd_set_export_name (h, "x"), EINVAL);
  FAILS_WITH (nbd_connect_command (h, argv), EINVAL);

  /* Strict bounds: past the end and zero length. */
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 1024 * 1024 - 1, 0), EINVAL);
  FAILS_WITH (nbd_zero (h, 0, 0, 0), EINVAL);
  /* Strict flags: a flag pread does not take, and one beyond 16 bits. */
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, LIBNBD_CMD_FLAG_FUA), EINVAL);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0x10000), EINVAL);
  /* Without STRICT_BOUNDS the request goes out and the server refuses. */
  strict = nbd_get_strict_mode (h);
  OK (nbd_set_strict_mode (h, strict & ~(uint32_t) LIBNBD_STRICT_BOUNDS));
  CHECK (nbd_pread (h, buf, sizeof buf, 1024 * 1024 - 1, 0) == -1);
  CHECK (nbd_get_errno () != 0);
  CHECK (nbd_aio_is_ready (h) == 1);   /* a server error is not fatal */
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  nbd_close (h);

  /* The server's EIO comes back as EIO. */
  h = connect_nbdkit (argv_err);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EIO);
  OK (nbd_pwrite (h, buf, sizeof buf, 0, 0));
  nbd_close (h);

  /* Strict commands: what the server did not advertise is refused. */
  h = connect_nbdkit (argv_notrim);
  CHECK (nbd_can_zero (h) == 0);
  CHECK (nbd_can_cache (h) == 0);
  FAILS_WITH (nbd_zero (h, 512, 0, 0), EINVAL);
  FAILS_WITH (nbd_cache (h, 512, 0, 0), EINVAL);
  nbd_close (h);
  return end_test ();
}
