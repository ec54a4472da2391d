/* Talk to qemu-nbd, a server other than nbdkit: size, a write and read
 * back, and its qemu:allocation-depth context.
 */
#include "harness.h"
#include <fcntl.h>

int
main (void)
{
  char *argv[] = { "qemu-nbd", "-f", "raw", "-t", "-A", NULL /* file */, NULL };
  struct nbd_handle *h;
  const char *sock, *img;
  char buf[4096], back[4096];
  int fd;

  start_test ("208-qemu-nbd", 120);
  img = test_path ("disk.img");
  fd = open (img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK (fd >= 0);
  CHECK (ftruncate (fd, 8 * 1024 * 1024) == 0);
  close (fd);
  argv[5] = (char *) img;
  start_server_unix ("sock", &sock, argv);

  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_QEMU_ALLOCATION_DEPTH));
  OK (nbd_connect_unix (h, sock));
  CHECK (nbd_get_size (h) == 8 * 1024 * 1024);
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1);
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_QEMU_ALLOCATION_DEPTH) == 1);
  memset (buf, 0xa5, sizeof buf);
  OK (nbd_pwrite (h, buf, sizeof buf, 65536, 0));
  OK (nbd_flush (h, 0));
  OK (nbd_pread (h, back, sizeof back, 65536, 0));
  CHECK (memcmp (buf, back, sizeof buf) == 0);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);
  return end_test ();
}
