/* A deliberately broken server (tests/hostile/nbd-hostile-server.py):
 * every misbehaviour ends in a clean error naming what was wrong, never
 * in success with wrong data, a hang or a crash.
 */
#include "harness.h"

static const char *
server_path (void)
{
  const char *p = getenv ("NBD_TEST_HOSTILE");
  return p ? p : "tests/hostile/nbd-hostile-server.py";
}

static struct nbd_handle *
hostile (const char *scenario, bool meta, bool opt_mode)
{
  char *argv[] = { "python3", (char *) server_path (), "--scenario", (char *) scenario, NULL };
  struct nbd_handle *h = nbd_create ();

  CHECK (h != NULL);
  if (meta)
    OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  if (opt_mode)
    OK (nbd_set_opt_mode (h, true));
  if (nbd_connect_command (h, argv) == -1)
    fail ("connect to the hostile server, scenario %s", scenario);
  return h;
}

/* The last error contains `what`. */
static void
error_says (const char *what)
{
  const char *e = nbd_get_error ();
  if (e == NULL || strstr (e, what) == NULL)
    fail ("error \"%s\" does not mention \"%s\"", e ? e : "(none)", what);
}

static int extents_seen;

/* Block status at `offset` against `scenario`, whose extents are
 * insane, fails with EPROTO and an error naming `what`; no extent is
 * delivered and the connection stays usable.
 */
static void
insane_extents (const char *scenario, uint64_t offset, const char *what)
{
  nbd_extent_callback ecb = { .callback = count_extent_calls,
                              .user_data = &extents_seen };
  struct nbd_handle *h = hostile (scenario, true, false);
  char buf[4096];

  extents_seen = 0;
  FAILS_WITH (nbd_block_status (h, 65536, offset, ecb, 0), EPROTO);
  error_says (what);
  CHECK (extents_seen == 0);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  nbd_close (h);
}

int
main (void)
{
  struct nbd_handle *h;
  char buf[4096];
  int64_t cookie;
  nbd_extent_callback ecb = { .callback = count_extent_calls,
                              .user_data = &extents_seen };

  start_test ("740-hostile-server", 300);

  /* Control: the well-behaved scenario works. */
  h = hostile ("normal", true, false);
  OK (nbd_pread (h, buf, sizeof buf, 0, 0));
  CHECK (buf[1] == 1 && buf[300] == (char) (300 % 251));
  OK (nbd_block_status (h, 65536, 0, ecb, 0));
  CHECK (extents_seen == 1);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);

  /* Half the data with a DONE flag: EIO, and the bytes the server never
   * sent come back as zeroes, also with pread_initialize off (the caller's
   * old bytes must not pass for data).
   */
  h = hostile ("short-read", false, false);
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EIO);
  error_says ("covered 2048 of the 4096 bytes");
  OK (nbd_set_pread_initialize (h, false));
  memset (buf, 0xaa, sizeof buf);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EIO);
  cookie = nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0);
  CHECK (cookie > 0);
  while (nbd_aio_command_completed (h, cookie) == 0)
    OK (nbd_poll (h, 5000));
  CHECK (nbd_get_errno () == EIO);
  CHECK (nbd_aio_is_ready (h));
  nbd_close (h);

  h = hostile ("read-none", false, false);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EIO);
  nbd_close (h);

  /* Overlapping chunks: a protocol error, the connection dies, the
   * command fails with ENOTCONN and the message keeps the cause.
   */
  h = hostile ("overlap-read", false, false);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), ENOTCONN);
  error_says ("overlapping");
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);

  /* An unknown non-error chunk type: the protocol says disconnect. */
  h = hostile ("unknown-chunk", false, false);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), ENOTCONN);
  error_says ("unknown structured reply chunk type 77");
  CHECK (nbd_aio_is_dead (h));
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), EINVAL);
  nbd_close (h);

  /* The server hangs up in the middle of a reply. */
  h = hostile ("disconnect-mid-reply", false, false);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 0, 0), ENOTCONN);
  error_says ("in the middle of a reply");
  nbd_close (h);

  /* Block status: insane extents fail the command with EPROTO, nothing
   * is delivered, and the connection stays usable.
   */
  insane_extents ("bs-zero-length", 0, "zero-length extent");
  insane_extents ("bs-past-end", 1024 * 1024 - 65536, "past the end of the export");
  insane_extents ("bs-wrong-context", 0, "meta context ID 99");

  /* A meta context the client never asked for is never negotiated. */
  h = hostile ("meta-unrequested", true, false);
  CHECK (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1);
  CHECK (nbd_can_meta_context (h, "qemu:evil") == 0);
  OK (nbd_block_status (h, 65536, 0, ecb, 0));
  CHECK (extents_seen == 1);
  nbd_close (h);

  /* Option reply floods end with EPROTO after the documented bound. */
  h = hostile ("list-flood", false, true);
  FAILS_WITH (nbd_opt_list (h, (nbd_list_callback) { .callback = ignore_export }), EPROTO);
  error_says ("more than 65536 replies");
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);
  h = hostile ("meta-flood", false, true);
  FAILS_WITH (nbd_opt_list_meta_context (h, (nbd_context_callback) { .callback = ignore_context }),
              EPROTO);
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);
  /* ... also during automatic negotiation. */
  {
    char *argv[] = { "python3", (char *) server_path (), "--scenario", "meta-flood", NULL };
    h = nbd_create ();
    CHECK (h != NULL);
    OK (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
    FAILS_WITH (nbd_connect_command (h, argv), EPROTO);
    nbd_close (h);
  }

  /* A wrong extended reply offset is a protocol error. */
  h = hostile ("extended-offset", false, false);
  CHECK (nbd_get_extended_headers_negotiated (h) == 1);
  FAILS_WITH (nbd_pread (h, buf, sizeof buf, 4096, 0), ENOTCONN);
  error_says ("offset");
  nbd_close (h);

  /* Plain newstyle in opt mode: a wrong export name kills it. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_opt_mode (h, true));
  {
    char *argv[] = { "python3", (char *) server_path (), "--scenario", "plain-newstyle", NULL };
    OK (nbd_connect_command (h, argv));
  }
  CHECK (nbd_aio_is_negotiating (h));
  FAILS_WITH (nbd_opt_info (h), ENOTSUP);
  OK (nbd_set_export_name (h, "wrong"));
  CHECK (nbd_opt_go (h) == -1);
  CHECK (nbd_aio_is_dead (h));
  nbd_close (h);

  return end_test ();
}
