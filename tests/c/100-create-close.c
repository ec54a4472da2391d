/* nbd_create gives a handle, nbd_close frees it, nbd_close (NULL) is a
 * no-op, and many handles can be made and closed without leaks.
 */
#include "harness.h"

int
main (void)
{
  struct nbd_handle *h;
  int i;

  start_test ("100-create-close", 60);
  h = nbd_create ();
  CHECK (h != NULL);
  nbd_close (h);
  nbd_close (NULL);

  for (i = 0; i < 100; i++) {
    h = nbd_create ();
    CHECK (h != NULL);
    nbd_close (h);
  }
  return end_test ();
}
