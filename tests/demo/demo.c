/* The demo program, C edition: the same steps as core/examples/demo.rs and
 * demo.py, printing what it saw as one JSON object for `cargo xtask demo`.
 *
 * Usage: demo [URI]   (without a URI it runs `nbdkit memory 1M` itself)
 */
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnbd.h>

#define PATTERN_LEN 65536
#define MAX_EXTENTS 64
#define MAX_EXPORTS 16

static uint64_t extents[MAX_EXTENTS][2];
static size_t nr_extents;
static char *exports[MAX_EXPORTS];
static size_t nr_exports;

static void
die (const char *what)
{
  fprintf (stderr, "demo: %s: %s\n", what, nbd_get_error ());
  exit (EXIT_FAILURE);
}

static int
connect_server (struct nbd_handle *h, const char *uri)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "1M", NULL };
  return uri ? nbd_connect_uri (h, uri) : nbd_connect_command (h, argv);
}

static int
extent (void *user_data, const char *metacontext, uint64_t offset,
        uint32_t *entries, size_t nr, int *error)
{
  size_t i;

  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  for (i = 0; i + 1 < nr && nr_extents < MAX_EXTENTS; i += 2) {
    extents[nr_extents][0] = entries[i];
    extents[nr_extents][1] = entries[i + 1];
    nr_extents++;
  }
  return 0;
}

static int
list (void *user_data, const char *name, const char *description)
{
  if (nr_exports < MAX_EXPORTS)
    exports[nr_exports++] = strdup (name);
  return 0;
}

static void
json_str (const char *s)
{
  putchar ('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf ("\\%c", *s);
    else if ((unsigned char) *s < 0x20)
      printf ("\\u%04x", *s);
    else
      putchar (*s);
  }
  putchar ('"');
}

int
main (int argc, char *argv[])
{
  const char *uri = argc > 1 ? argv[1] : NULL;
  struct nbd_handle *h, *lh;
  static char want[PATTERN_LEN], got[PATTERN_LEN];
  const char *pattern = "skipped (read-only)";
  int64_t size;
  int read_only, listed;
  size_t i;

  h = nbd_create ();
  if (h == NULL) die ("nbd_create");
  if (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1) die ("add_meta_context");
  if (connect_server (h, uri) == -1) die ("connect");
  if ((size = nbd_get_size (h)) == -1) die ("get_size");
  if ((read_only = nbd_is_read_only (h)) == -1) die ("is_read_only");
  if (!read_only) {
    for (i = 0; i < PATTERN_LEN; i++)
      want[i] = i % 251;
    if (nbd_pwrite (h, want, sizeof want, 0, 0) == -1) die ("pwrite");
    if (nbd_pread (h, got, sizeof got, 0, 0) == -1) die ("pread");
    pattern = memcmp (want, got, sizeof want) == 0 ? "ok" : "MISMATCH";
  }
  printf ("{\"language\": \"C\", \"size\": %" PRId64 ", \"pattern\": ", size);
  json_str (pattern);
  printf (", \"flags\": {\"read_only\": %s, \"can_flush\": %s, \"can_fua\": %s, "
          "\"can_trim\": %s, \"can_zero\": %s, \"can_multi_conn\": %s}",
          read_only ? "true" : "false",
          nbd_can_flush (h) == 1 ? "true" : "false",
          nbd_can_fua (h) == 1 ? "true" : "false",
          nbd_can_trim (h) == 1 ? "true" : "false",
          nbd_can_zero (h) == 1 ? "true" : "false",
          nbd_can_multi_conn (h) == 1 ? "true" : "false");
  if (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1) {
    uint64_t len = size < (1 << 20) ? size : (1 << 20);
    if (nbd_block_status (h, len, 0,
                          (nbd_extent_callback) { .callback = extent }, 0) == -1)
      die ("block_status");
  }
  printf (", \"extents\": [");
  for (i = 0; i < nr_extents; i++)
    printf ("%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "", extents[i][0], extents[i][1]);
  printf ("]");
  if (nbd_shutdown (h, 0) == -1) die ("shutdown");
  nbd_close (h);

  lh = nbd_create ();
  if (lh == NULL) die ("nbd_create");
  if (nbd_set_opt_mode (lh, true) == -1) die ("set_opt_mode");
  if (connect_server (lh, uri) == -1) die ("connect (opt mode)");
  listed = nbd_opt_list (lh, (nbd_list_callback) { .callback = list });
  printf (", \"exports\": [");
  if (listed == -1) {
    char msg[256];
    snprintf (msg, sizeof msg, "(not listed: %s)", nbd_get_error ());
    json_str (msg);
  }
  for (i = 0; i < nr_exports; i++) {
    printf ("%s", i ? ", " : "");
    json_str (exports[i]);
    free (exports[i]);
  }
  printf ("]}\n");
  nbd_opt_abort (lh);
  nbd_close (lh);
  return EXIT_SUCCESS;
}
