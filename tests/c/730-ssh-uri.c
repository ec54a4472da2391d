/* nbd+ssh:// and nbds+ssh:// URIs (libnbd 1.22): the handle runs ssh
 * (a stand-in on PATH, tests/ssh-stand-in/ssh, which records its
 * arguments and serves with nbdkit) and speaks NBD over its stdin and
 * stdout; set_uri_allow_transports controls the scheme; a host or user
 * name that could pass for an ssh option is refused with EINVAL before
 * anything runs.
 */
#include "harness.h"
#include <libgen.h>
#include <sys/stat.h>

static char log_path[PATH_MAX];

static char *
read_log (void)
{
  static char buf[4096];
  FILE *f = fopen (log_path, "r");
  size_t n;
  if (f == NULL)
    return NULL;
  n = fread (buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose (f);
  return buf;
}

int
main (void)
{
  char here[PATH_MAX], dir[PATH_MAX], path[3 * PATH_MAX];
  struct nbd_handle *h;
  struct stat st;
  const char *log;

  start_test ("730-ssh-uri", 120);
  snprintf (here, sizeof here, "%s", __FILE__);
  snprintf (dir, sizeof dir, "%s/../ssh-stand-in", dirname (here));
  snprintf (path, sizeof path, "%s:%s", dir, getenv ("PATH"));
  setenv ("PATH", path, 1);
  snprintf (log_path, sizeof log_path, "%s", test_path ("ssh.log"));
  setenv ("NBD_TEST_SSH_LOG", log_path, 1);

  /* Through ssh, with port, user and a remote socket. */
  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_is_uri (h, "nbd+ssh://alice@example.com:2222/disk?socket=/run/nbd.sock") == 1);
  OK (nbd_connect_uri (h, "nbd+ssh://alice@example.com:2222/disk?socket=/run/nbd.sock"));
  CHECK (nbd_get_size (h) == 1024 * 1024);
  {
    char *name = nbd_get_export_name (h);
    CHECK (name != NULL && strcmp (name, "disk") == 0);
    free (name);
  }
  log = read_log ();
  CHECK (log != NULL);
  CHECK (strcmp (log, "-p\n2222\n-l\nalice\n--\nexample.com\nnc -U '/run/nbd.sock'\n") == 0);
  OK (nbd_shutdown (h, 0));
  nbd_close (h);

  /* Without a socket: nc to the default port on the far host. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_connect_uri (h, "nbd+ssh://example.com/"));
  log = read_log ();
  CHECK (log != NULL && strcmp (log, "--\nexample.com\nnc localhost 10809\n") == 0);
  nbd_close (h);

  /* The transport can be forbidden. */
  h = nbd_create ();
  CHECK (h != NULL);
  OK (nbd_set_uri_allow_transports (h, LIBNBD_ALLOW_TRANSPORT_TCP | LIBNBD_ALLOW_TRANSPORT_UNIX));
  unlink (log_path);
  FAILS_WITH (nbd_connect_uri (h, "nbd+ssh://example.com/"), EPERM);
  CHECK (stat (log_path, &st) == -1);
  nbd_close (h);

  /* Names that ssh would take for options: EINVAL, ssh never runs. */
  {
    const char *bad[] = {
      "nbd+ssh://-oProxyCommand=touch%20pwned/",
      "nbd+ssh://-lroot@example.com/",
      "nbd+ssh://-oProxyCommand=x@example.com/",
      "nbd+ssh://ali%0Ace@example.com/",
      NULL,
    };
    size_t i;
    for (i = 0; bad[i] != NULL; i++) {
      h = nbd_create ();
      CHECK (h != NULL);
      FAILS_WITH (nbd_connect_uri (h, bad[i]), EINVAL);
      CHECK (stat (log_path, &st) == -1);
      CHECK (nbd_aio_is_created (h));
      nbd_close (h);
    }
  }

  /* nbds+ssh: TLS is required over the tunnel; a plaintext server is
   * refused.
   */
  h = nbd_create ();
  CHECK (h != NULL);
  CHECK (nbd_connect_uri (h, "nbds+ssh://example.com/") == -1);
  CHECK (nbd_get_tls (h) == LIBNBD_TLS_REQUIRE);
  nbd_close (h);

  return end_test ();
}
