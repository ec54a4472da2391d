/* TLS with a pre-shared key: nbdkit --tls=require accepts the right key
 * and refuses a wrong one; TLS_REQUIRE refuses a plaintext server and
 * TLS_ALLOW falls back to it visibly; an nbds+unix:// URI turns TLS on
 * (its key file, a local file, only when allowed).
 */
/* scenarios: 751 753 */
#include "harness.h"

static void
write_key_file (const char *path, unsigned seed)
{
  FILE *fp = fopen (path, "w");
  unsigned i;

  if (fp == NULL)
    fail ("fopen %s", path);
  fprintf (fp, "alice:");
  for (i = 0; i < 32; i++)
    fprintf (fp, "%02x", (i * 37 + seed * 101 + 7) & 0xff);
  fprintf (fp, "\n");
  fclose (fp);
}

static struct nbd_handle *
tls_handle (int mode, const char *keys)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    fail ("nbd_create");
  OK (nbd_set_tls (h, mode));
  OK (nbd_set_tls_psk_file (h, keys));
  OK (nbd_set_tls_username (h, "alice"));
  return h;
}

int
main (void)
{
  char keys[PATH_MAX], wrong[PATH_MAX], psk_arg[PATH_MAX + 16];
  struct nbd_handle *h;
  char buf[16];

  start_test ("750-tls-psk", 120);
  snprintf (keys, sizeof keys, "%s", test_path ("keys.psk"));
  snprintf (wrong, sizeof wrong, "%s", test_path ("wrong.psk"));
  write_key_file (keys, 1);
  write_key_file (wrong, 2);
  snprintf (psk_arg, sizeof psk_arg, "--tls-psk=%s", keys);
  char *tls_server[] = { "nbdkit", "-s", "--exit-with-parent", "--tls=require",
                         psk_arg, "memory", "1M", NULL };
  char *plain_server[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };

  CHECK (nbd_supports_tls (h = nbd_create ()) == 1);
  nbd_close (h);

  /* The right key: encrypted, and data round-trips. */
  tls_round_trip (tls_handle (LIBNBD_TLS_REQUIRE, keys), tls_server,
                  "over TLS", 8, 512);

  /* A wrong key fails the connection. */
  h = tls_handle (LIBNBD_TLS_REQUIRE, wrong);
  CHECK (nbd_connect_command (h, tls_server) == -1);
  CHECK (nbd_aio_is_ready (h) == 0);
  nbd_close (h);

  /* REQUIRE against a server without TLS fails; ALLOW falls back. */
  h = tls_handle (LIBNBD_TLS_REQUIRE, keys);
  CHECK (nbd_connect_command (h, plain_server) == -1);
  nbd_close (h);
  h = tls_handle (LIBNBD_TLS_ALLOW, keys);
  OK (nbd_connect_command (h, plain_server));
  CHECK (nbd_get_tls_negotiated (h) == 0);
  OK (nbd_pread (h, buf, 8, 0, 0));
  nbd_close (h);

  {
    const char *sock;
    char uri[3 * PATH_MAX];
    char *listening[] = { "nbdkit", "-f", "--tls=require", psk_arg, "memory", "1M", NULL };

    start_server_unix ("tls.sock", &sock, listening);
    snprintf (uri, sizeof uri,
              "nbds+unix:///?socket=%s&tls-psk-file=%s&tls-username=alice", sock, keys);
    h = nbd_create ();
    CHECK (h != NULL);
    CHECK (nbd_connect_uri (h, uri) == -1);
    CHECK (nbd_aio_is_ready (h) == 0);
    nbd_close (h);
    h = nbd_create ();
    CHECK (h != NULL);
    OK (nbd_set_uri_allow_local_file (h, true));
    OK (nbd_connect_uri (h, uri));
    CHECK (nbd_get_tls_negotiated (h) == 1);
    CHECK (nbd_get_size (h) == 1024 * 1024);
    OK (nbd_shutdown (h, 0));
    nbd_close (h);
  }
  return end_test ();
}
