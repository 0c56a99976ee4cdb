/* process_start and spawn, impl `floor`: the OS cost of fork, a child that _exits at once, and
 * waitpid.
 *   bench_floor_fork COUNT
 * Prints the median microseconds of COUNT rounds (after a few warm-up rounds) as a JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_report.h"

enum { warmup_rounds = 10 };

/* One fork+exit+wait round; returns its duration in nanoseconds, or exits on failure. */
static double fork_exit_wait(void) {
  double start = bench_now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0)
    _exit(0);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "floor_fork: the child did not exit cleanly\n");
    exit(1);
  }
  return bench_now_ns() - start;
}

int main(int argc, char** argv) {
  long count = bench_count(argc, argv);
  if (count <= 0)
    return 2;
  double* samples = malloc(sizeof(double) * (size_t)count);
  if (samples == NULL)
    return 1;
  for (int i = 0; i < warmup_rounds; ++i)
    fork_exit_wait();
  for (long i = 0; i < count; ++i)
    samples[i] = fork_exit_wait() / 1e3;
  bench_print(bench_median(samples, (size_t)count), "us", "lower");
  free(samples);
  return 0;
}
