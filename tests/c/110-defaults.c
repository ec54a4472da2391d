/* A new handle has libnbd's defaults. */
/* scenarios: 120 */
#include "harness.h"

int
main (void)
{
  struct nbd_handle *h;
  char *s;

  start_test ("110-defaults", 60);
  unsetenv ("LIBNBD_DEBUG");
  h = nbd_create ();
  CHECK (h != NULL);

  CHECK (strcmp (nbd_get_package_name (h), "libnbd") == 0);
  CHECK (strncmp (nbd_get_version (h), "1.", 2) == 0);
  CHECK (nbd_get_debug (h) == 0);
  CHECK (nbd_get_tls (h) == LIBNBD_TLS_DISABLE);
  CHECK (nbd_get_tls_verify_peer (h) == 1);
  CHECK (nbd_get_request_structured_replies (h) == 1);
  CHECK (nbd_get_request_meta_context (h) == 1);
  CHECK (nbd_get_request_block_size (h) == 1);
  CHECK (nbd_get_full_info (h) == 0);
  CHECK (nbd_get_opt_mode (h) == 0);
  CHECK (nbd_get_pread_initialize (h) == 1);
  CHECK (nbd_get_handshake_flags (h) == LIBNBD_HANDSHAKE_FLAG_MASK);
  CHECK (nbd_get_strict_mode (h) == (LIBNBD_STRICT_MASK & ~(uint32_t) LIBNBD_STRICT_AUTO_FLAG) ||
         nbd_get_strict_mode (h) == LIBNBD_STRICT_MASK);
  CHECK (nbd_get_private_data (h) == 0);
  CHECK (nbd_set_private_data (h, 42) == 0);
  CHECK (nbd_get_private_data (h) == 42);
  CHECK (nbd_get_nr_meta_contexts (h) == 0);

  s = nbd_get_export_name (h);
  CHECK (s != NULL && strcmp (s, "") == 0);
  free (s);
  s = nbd_get_handle_name (h);
  CHECK (s != NULL && strncmp (s, "nbd", 3) == 0);
  free (s);

  CHECK (nbd_aio_is_created (h) == 1);
  CHECK (nbd_aio_is_connecting (h) == 0);
  CHECK (nbd_aio_is_ready (h) == 0);
  CHECK (strcmp (nbd_connection_state (h), "") != 0);
  CHECK (nbd_stats_bytes_sent (h) == 0);
  CHECK (nbd_supports_uri (h) == 1);

  /* Setters round-trip. */
  OK (nbd_set_export_name (h, "disk"));
  s = nbd_get_export_name (h);
  CHECK (s != NULL && strcmp (s, "disk") == 0);
  free (s);
  OK (nbd_set_handle_name (h, "myhandle"));
  s = nbd_get_handle_name (h);
  CHECK (s != NULL && strcmp (s, "myhandle") == 0);
  free (s);
  OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  CHECK (nbd_get_nr_meta_contexts (h) == 1);
  s = nbd_get_meta_context (h, 0);
  CHECK (s != NULL && strcmp (s, "base:allocation") == 0);
  free (s);
  OK (nbd_clear_meta_contexts (h));
  CHECK (nbd_get_nr_meta_contexts (h) == 0);
  OK (nbd_set_tls (h, LIBNBD_TLS_ALLOW));
  CHECK (nbd_get_tls (h) == LIBNBD_TLS_ALLOW);
  OK (nbd_set_full_info (h, true));
  CHECK (nbd_get_full_info (h) == 1);
  OK (nbd_set_request_structured_replies (h, false));
  CHECK (nbd_get_request_structured_replies (h) == 0);
  OK (nbd_set_handshake_flags (h, 0));
  CHECK (nbd_get_handshake_flags (h) == 0);
  OK (nbd_set_strict_mode (h, 0));
  CHECK (nbd_get_strict_mode (h) == 0);
  OK (nbd_set_opt_mode (h, true));
  CHECK (nbd_get_opt_mode (h) == 1);
  OK (nbd_set_pread_initialize (h, false));
  CHECK (nbd_get_pread_initialize (h) == 0);
  OK (nbd_set_tls_username (h, "alice"));
  s = nbd_get_tls_username (h);
  CHECK (s != NULL && strcmp (s, "alice") == 0);
  free (s);

  /* Calls that need a connection say so. */
  FAILS_WITH (nbd_get_size (h), ENOTCONN);

  nbd_close (h);
  return end_test ();
}
