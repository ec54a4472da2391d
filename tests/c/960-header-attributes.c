/* A program may define libnbd.h's attribute macros itself (here: empty,
 * to drop the nonnull attributes); the header must then keep the
 * program's definitions instead of redefining them. Compiled with
 * -Wall -Wextra -Werror, a redefinition is an error.
 */
#define LIBNBD_ATTRIBUTE_NONNULL(...)
#define LIBNBD_ATTRIBUTE_ALLOC_DEALLOC(fn)
#include "harness.h"

int
main (void)
{
  struct nbd_handle *h;

  start_test ("960-header-attributes", 30);
  h = nbd_create ();
  CHECK (h != NULL);
  /* Without the nonnull attribute the compiler lets this through; the
   * library still refuses it.
   */
  FAILS_WITH (nbd_set_export_name (h, NULL), EFAULT);
  nbd_close (h);
  return end_test ();
}
