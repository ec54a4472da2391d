/* 64 aio reads in flight at once, each with a completion callback and a
 * free function: every callback runs once, every free runs once, the
 * data is right, and retiring by callback (return 1) and by
 * nbd_aio_command_completed both work.
 */
/* scenarios: 400 410 */
#include "harness.h"

#define N 64
#define SIZE 65536

struct cmd {
  int completed;
  int freed;
  int error;
};

static struct cmd cmds[N];
static uint8_t bufs[N][SIZE];

static int
completion (void *user_data, int *error)
{
  struct cmd *c = user_data;
  c->completed++;
  c->error = *error;
  /* Retire even-numbered commands from the callback. */
  return (c - cmds) % 2 == 0;
}

FREE_COUNTER (free_cmd, struct cmd)

int
main (void)
{
  char *argv[] = { "nbdkit", "-s", "--exit-with-parent", "pattern", "1G", NULL };
  struct nbd_handle *h;
  int64_t cookies[N];
  int i, done;

  start_test ("420-aio-64-in-flight", 120);
  h = connect_nbdkit (argv);
  for (i = 0; i < N; i++) {
    nbd_completion_callback cb = { .callback = completion, .user_data = &cmds[i], .free = free_cmd };
    cookies[i] = nbd_aio_pread (h, bufs[i], SIZE, (uint64_t) i * 1000003, cb, 0);
    CHECK (cookies[i] > 0);
  }
  /* Nothing has been read back yet: all 64 are in flight together. */
  CHECK (nbd_aio_in_flight (h) == N);
  for (i = 0; i < N; i++)
    CHECK (cmds[i].completed == 0);

  done = 0;
  while (done < N) {
    OK (nbd_poll (h, 5000));
    done = 0;
    for (i = 0; i < N; i++)
      done += cmds[i].completed;
  }
  for (i = 0; i < N; i++) {
    CHECK (cmds[i].completed == 1);
    CHECK (cmds[i].error == 0);
    check_pattern (bufs[i], SIZE, (uint64_t) i * 1000003);
    if (i % 2 == 1)
      CHECK (nbd_aio_command_completed (h, cookies[i]) == 1);
  }
  /* Every command has retired. */
  CHECK (nbd_aio_in_flight (h) == 0);
  CHECK (nbd_aio_peek_command_completed (h) == -1);
  for (i = 0; i < N; i++)
    CHECK (cmds[i].freed == 1);

  /* aio_pwrite and aio_flush on a writable disk, retired by the caller. */
  nbd_close (h);
  {
    char *argv2[] = { "nbdkit", "-s", "--exit-with-parent", "memory", "8M", NULL };
    int64_t c;
    h = connect_nbdkit (argv2);
    memset (bufs[0], 0x5a, SIZE);
    c = nbd_aio_pwrite (h, bufs[0], SIZE, 4096, NBD_NULL_COMPLETION, 0);
    CHECK (c > 0);
    while (nbd_aio_command_completed (h, c) == 0)
      OK (nbd_poll (h, 5000));
    c = nbd_aio_flush (h, NBD_NULL_COMPLETION, 0);
    CHECK (c > 0);
    while (nbd_aio_command_completed (h, c) == 0)
      OK (nbd_poll (h, 5000));
    OK (nbd_pread (h, bufs[1], SIZE, 4096, 0));
    CHECK (memcmp (bufs[0], bufs[1], SIZE) == 0);
    nbd_close (h);
  }
  return end_test ();
}
