/* The physical floor of this machine for `cargo xtask bench`: what two
 * processes can do over a Unix stream socket with no NBD in between.
 *
 * Usage: floor stream BYTES     one process writes BYTES in 256 KiB writes,
 *                               the other reads them in 256 KiB reads; both
 *                               rotate over 64 buffers, as an NBD client
 *                               with 64 requests of 256 KiB in flight does
 *        floor pingpong OPS     OPS round trips shaped like an NBD 4 KiB
 *                               read: 28 bytes out, 16 + 4096 bytes back
 *
 * Prints one JSON line like bench.c: ops, bytes, secs, user, sys (CPU of
 * the reading/asking process only, the "client"), lat_us (pingpong).
 */

#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "c/clock.h"

#define CHUNK (256 * 1024)
#define NBUF 64
#define REQUEST 28
#define REPLY (16 + 4096)

static void
read_full (int fd, char *buf, size_t len)
{
  while (len > 0) {
    ssize_t r = read (fd, buf, len);
    if (r <= 0) {
      perror ("floor: read");
      exit (1);
    }
    buf += r;
    len -= r;
  }
}

static void
write_full (int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t r = write (fd, buf, len);
    if (r <= 0) {
      perror ("floor: write");
      exit (1);
    }
    buf += r;
    len -= r;
  }
}

int
main (int argc, char *argv[])
{
  if (argc != 3 || (strcmp (argv[1], "stream") && strcmp (argv[1], "pingpong"))) {
    fprintf (stderr, "usage: floor stream BYTES | floor pingpong OPS\n");
    exit (2);
  }
  int stream = strcmp (argv[1], "stream") == 0;
  uint64_t amount = strtoull (argv[2], NULL, 0);
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
    perror ("floor: socketpair");
    exit (1);
  }
  static char buf[CHUNK];
  memset (buf, 0x55, sizeof buf);
  char *bufs = malloc ((size_t) NBUF * CHUNK);
  if (bufs == NULL) {
    perror ("floor: malloc");
    exit (1);
  }
  memset (bufs, 0x55, (size_t) NBUF * CHUNK);

  pid_t pid = fork ();
  if (pid == -1) {
    perror ("floor: fork");
    exit (1);
  }
  if (pid == 0) {
    /* The "server": waits for one start byte, then writes or answers. */
    close (sv[0]);
    char go;
    read_full (sv[1], &go, 1);
    if (stream) {
      for (uint64_t i = 0; i * CHUNK < amount; i++)
        write_full (sv[1], bufs + (i % NBUF) * CHUNK, CHUNK);
    }
    else {
      for (uint64_t i = 0; i < amount; i++) {
        read_full (sv[1], buf, REQUEST);
        write_full (sv[1], buf, REPLY);
      }
    }
    _exit (0);
  }
  close (sv[1]);

  double u0, s0, u1, s1;
  cpu (&u0, &s0);
  double t0 = now ();
  write_full (sv[0], "g", 1);
  uint64_t ops = 0, bytes = 0;
  if (stream) {
    for (uint64_t i = 0; bytes < amount; i++) {
      uint64_t want = amount - bytes < CHUNK ? amount - bytes : CHUNK;
      read_full (sv[0], bufs + (i % NBUF) * CHUNK, want);
      bytes += want;
    }
    ops = bytes / CHUNK;
  }
  else {
    static char req[REQUEST];
    for (ops = 0; ops < amount; ops++) {
      write_full (sv[0], req, REQUEST);
      read_full (sv[0], buf, REPLY);
    }
    bytes = ops * 4096;
  }
  double secs = now () - t0;
  cpu (&u1, &s1);
  int status;
  waitpid (pid, &status, 0);

  printf ("{\"workload\": \"floor-%s\", \"side\": \"floor\", \"ops\": %" PRIu64
          ", \"bytes\": %" PRIu64 ", \"secs\": %.6f, \"user\": %.6f, \"sys\": %.6f, "
          "\"lat_us\": %.3f}\n",
          argv[1], ops, bytes, secs, u1 - u0, s1 - s0,
          stream || ops == 0 ? 0.0 : secs / ops * 1e6);
  return 0;
}
