/* A broken server (tests/hostile/nbd-hostile-server.py), in the cases
 * where libnbd 1.14 already behaves as documented: reads the server does
 * not cover fail with EIO, a reply cut off or of an unknown type ends the
 * connection, and the handle's state afterwards.
 */
#include "trace.h"

static const char *
server_path (void)
{
  const char *p = getenv ("NBD_TEST_HOSTILE");
  return p ? p : "tests/hostile/nbd-hostile-server.py";
}

static struct nbd_handle *
hostile (const char *scenario)
{
  char *argv[] = { "python3", (char *) server_path (), "--scenario", (char *) scenario, NULL };
  struct nbd_handle *h = nbd_create ();
  SAY ("-- %s", scenario);
  T (nbd_connect_command (h, argv));
  return h;
}

static int
completion_cb (void *user_data, int *error)
{
  (void) user_data;
  SAY ("  completion: error=%s", errno_name (*error));
  return 0;
}

/* An aio read against `scenario`, which ends the connection mid-way:
 * the completion callback is told, the command retires and the handle is
 * dead. Returns the handle.
 */
static struct nbd_handle *
read_ends_connection (const char *scenario)
{
  struct nbd_handle *h = hostile (scenario);
  char buf[4096];
  int64_t c;

  T_COOKIE (c, nbd_aio_pread (h, buf, sizeof buf, 0,
                              (nbd_completion_callback) { .callback = completion_cb }, 0));
  while (nbd_aio_in_flight (h) > 0 && !nbd_aio_is_dead (h))
    nbd_poll (h, 5000);
  T (nbd_aio_command_completed (h, c));
  T (nbd_aio_is_dead (h));
  return h;
}

int
main (void)
{
  struct nbd_handle *h;
  char buf[4096];
  int64_t c;
  const char *reads[] = { "short-read", "read-none", NULL };
  size_t i;

  start (120);
  for (i = 0; reads[i] != NULL; i++) {
    h = hostile (reads[i]);
    memset (buf, 0xaa, sizeof buf);
    T (nbd_pread (h, buf, sizeof buf, 0, 0));
    SAY ("  tail of the buffer %s", all_bytes (buf + 2048, 2048, 0) ? "zero" : "not zero");
    /* No completion callback here: libnbd 1.14 tells it error=0 and
     * reports EIO only when the command retires; we tell it EIO.
     */
    T_COOKIE (c, nbd_aio_pread (h, buf, sizeof buf, 0, NBD_NULL_COMPLETION, 0));
    while (nbd_aio_in_flight (h) > 0)
      nbd_poll (h, 5000);
    T (nbd_aio_command_completed (h, c));
    T (nbd_aio_is_ready (h));
    T (nbd_pread (h, buf, 1, 0, 0));
    nbd_close (h);
  }

  h = read_ends_connection ("unknown-chunk");
  T (nbd_pread (h, buf, sizeof buf, 0, 0));
  nbd_close (h);

  nbd_close (read_ends_connection ("disconnect-mid-reply"));
  return 0;
}
