/* queue_rtt, pipe_rtt and pingpong, impls `floor-spin` and `floor-futex`: the least a round trip
 * between two processes can cost. Parent and child share one word (an anonymous shared mapping
 * inherited over fork); the parent makes it odd (ping), the child makes it even again (pong).
 *   bench_floor_rtt spin|futex COUNT
 * spin: each side busy-waits for the other's store (needs both processes on their own core).
 * futex: each side sleeps in FUTEX_WAIT until the other's store and FUTEX_WAKE (the wake-up floor).
 * Prints the median microseconds of COUNT round trips (after a few warm-up rounds) as a JSON line. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_report.h"

enum { warmup_rounds = 1000 };

/* The shared word: 2k+1 after the k-th ping, 2k+2 after its pong. */
typedef _Atomic uint32_t word_t;

static int use_futex;

/* Waits until *w no longer holds `seen`. */
static void wait_change(word_t* w, uint32_t seen) {
  while (atomic_load_explicit(w, memory_order_acquire) == seen) {
    if (use_futex)
      syscall(SYS_futex, (uint32_t*)w, FUTEX_WAIT, seen, NULL, NULL, 0);
    else
      _mm_pause();
  }
}

static void store_and_wake(word_t* w, uint32_t value) {
  atomic_store_explicit(w, value, memory_order_release);
  if (use_futex)
    syscall(SYS_futex, (uint32_t*)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* The child: answers every ping until the parent kills it. */
static void ponger(word_t* w) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (uint32_t v = 0;; v += 2) {
    wait_change(w, v);
    store_and_wake(w, v + 2);
  }
}

int main(int argc, char** argv) {
  long count = argc == 3 ? atol(argv[2]) : 0;
  if (count <= 0 || (strcmp(argv[1], "spin") != 0 && strcmp(argv[1], "futex") != 0)) {
    fprintf(stderr, "usage: %s spin|futex COUNT\n", argv[0]);
    return 2;
  }
  use_futex = strcmp(argv[1], "futex") == 0;
  word_t* w = mmap(NULL, sizeof(word_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  double* samples = malloc(sizeof(double) * (size_t)count);
  if (w == MAP_FAILED || samples == NULL)
    return 1;
  atomic_init(w, 0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0)
    ponger(w);
  uint32_t v = 0;
  for (long i = -warmup_rounds; i < count; ++i, v += 2) {
    double start = bench_now_ns();
    store_and_wake(w, v + 1);
    wait_change(w, v + 1);
    if (i >= 0)
      samples[i] = (bench_now_ns() - start) / 1e3;
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  bench_print(bench_median(samples, (size_t)count), "us", "lower");
  free(samples);
  munmap(w, sizeof(word_t));
  return 0;
}
