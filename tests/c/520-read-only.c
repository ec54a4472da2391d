/* A read-only export (nbdkit -r, and qemu-nbd -r): reads work; writes
 * are refused with EPERM before reaching the server, and trims and
 * zeroes, which read-only servers do not advertise, with EINVAL (libnbd
 * checks the advertised command before the read-only flag).
 */
#include "harness.h"
#include <fcntl.h>

static void
check_read_only (struct nbd_handle *h)
{
  char buf[4096];

  CHECK (nbd_is_read_only (h) == 1);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  FAILS_WITH (nbd_pwrite (h, buf, sizeof buf, 0, 0), EPERM);
  CHECK (nbd_can_trim (h) == 0 && nbd_can_zero (h) == 0);
  FAILS_WITH (nbd_trim (h, sizeof buf, 0, 0), EINVAL);
  FAILS_WITH (nbd_zero (h, sizeof buf, 0, 0), EINVAL);
  CHECK (nbd_aio_pwrite (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0) == -1);
  CHECK (nbd_get_errno () == EPERM);
  CHECK (nbd_aio_is_ready (h) == 1);
}

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "-r", "memory", "1M", NULL };
  char *qargv[] = { "qemu-nbd", "-r", "-f", "raw", NULL, NULL };
  struct nbd_handle *h;
  const char *img, *sock;
  int fd;

  start_test ("520-read-only", 60);
  h = connect_nbdkit (argv);
  check_read_only (h);
  nbd_close (h);

  img = test_path ("disk.img");
  fd = open (img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK (fd >= 0 && ftruncate (fd, 1024 * 1024) == 0);
  close (fd);
  qargv[4] = (char *) img;
  start_server_unix ("sock", &sock, qargv);
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_unix (h, sock));
  check_read_only (h);
  nbd_close (h);
  return end_test ();
}
