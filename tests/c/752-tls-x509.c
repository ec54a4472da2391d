/* TLS with X.509 certificates against nbdkit: a verified server with a
 * client certificate works, a wrong host name is refused; the whole
 * program is valgrind-clean with no suppressions (no one-time OpenSSL
 * caches left behind by the library).
 */
#include "harness.h"
#include <libgen.h>

int
main (void)
{
  char script[PATH_MAX], cmd[3 * PATH_MAX], here[PATH_MAX];
  char certs_arg[PATH_MAX + 32];
  struct nbd_handle *h;

  start_test ("752-tls-x509", 300);
  snprintf (here, sizeof here, "%s", __FILE__);
  snprintf (script, sizeof script, "%s/make-x509.sh", dirname (here));
  snprintf (cmd, sizeof cmd, "sh '%s' '%s'", script, test_dir);
  if (system (cmd) != 0)
    fail ("%s failed", cmd);
  snprintf (certs_arg, sizeof certs_arg, "--tls-certificates=%s/server", test_dir);
  char *server[] = { "nbdkit", "-s", "--exit-with-parent", "--tls=require",
                     certs_arg, "--tls-verify-peer", "memory", "1M", NULL };

  /* Verified both ways. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_tls (h, LIBNBD_TLS_REQUIRE));
  OK (nbd_set_tls_certificates (h, test_path ("client")));
  OK (nbd_set_tls_verify_peer (h, true));
  OK (nbd_set_tls_hostname (h, "localhost"));
  tls_round_trip (h, server, "hello", 5, 0);

  /* The certificate does not name this host: refused. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_tls (h, LIBNBD_TLS_REQUIRE));
  OK (nbd_set_tls_certificates (h, test_path ("client")));
  OK (nbd_set_tls_hostname (h, "elsewhere.example"));
  CHECK (nbd_connect_command (h, server) == -1);
  CHECK (nbd_aio_is_dead (h) || nbd_aio_is_closed (h));
  nbd_close (h);

  return end_test ();
}
