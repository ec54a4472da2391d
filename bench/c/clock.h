/* The clocks of the C benchmark programs (bench/c/bench.c and
 * bench/floor.c): wall time, and this process's CPU time.
 */
#ifndef NBD_BENCH_CLOCK_H
#define NBD_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The user and system CPU seconds this process has used. */
static void
cpu (double *user, double *sys)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#endif /* NBD_BENCH_CLOCK_H */
