/* threadring, impl `floor-futex`: the wake-up floor of a token ring of 100 processes. Each member
 * sleeps in FUTEX_WAIT on its own word of one anonymous shared mapping (made before fork); a hop
 * stores the token (the hops left after it, plus one) in the next member's word and FUTEX_WAKEs
 * it. The member that gets the token with no hop left sends `stop` round the ring; each member
 * exits as the stop passes, and the parent (member 0) waits for them all.
 *   bench_floor_ring COUNT
 * Prints the median microseconds a hop of the laps (member 0 times each lap of 100 hops) as a JSON
 * line. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_report.h"

enum { ring_size = 100 };

/* A member's futex word, alone on its cache line: 0 while it has nothing, the token, or stop. */
struct slot {
  alignas(64) _Atomic uint32_t word;
};

enum { stop = UINT32_MAX };

/* Waits until this member's word holds something; returns it and empties the word. */
static uint32_t take(struct slot* mine) {
  uint32_t v;
  while ((v = atomic_exchange_explicit(&mine->word, 0, memory_order_acquire)) == 0)
    syscall(SYS_futex, (uint32_t*)&mine->word, FUTEX_WAIT, 0, NULL, NULL, 0);
  return v;
}

static void give(struct slot* next, uint32_t v) {
  atomic_store_explicit(&next->word, v, memory_order_release);
  syscall(SYS_futex, (uint32_t*)&next->word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Passes what member `i` takes on to member i+1 until the stop has passed; `lap` (member 0 only)
 * is called each time the token comes by. A token v means v-1 hops are left. */
static void serve(struct slot* ring, int i, void (*lap)(void)) {
  struct slot* next = &ring[(i + 1) % ring_size];
  int stopping = 0;
  for (;;) {
    uint32_t v = take(&ring[i]);
    if (v == stop) {
      if (!stopping)
        give(next, stop);
      return;
    }
    if (lap)
      lap();
    if (v > 1) {
      give(next, v - 1);
    } else {
      stopping = 1;
      give(next, stop);
    }
  }
}

static double* laps;
static long lap_count;
static double last_lap;

static void time_lap(void) {
  double now = bench_now_ns();
  laps[lap_count++] = now - last_lap;
  last_lap = now;
}

/* Kills and reaps the members forked so far (after a failure). */
static void kill_members(const pid_t* pids, int n) {
  for (int i = 0; i < n; ++i)
    kill(pids[i], SIGKILL);
  for (int i = 0; i < n; ++i)
    waitpid(pids[i], NULL, 0);
}

int main(int argc, char** argv) {
  long count = bench_count(argc, argv);
  if (count <= 0)
    return 2;
  if (count >= stop - 1) {
    fprintf(stderr, "%s: COUNT must be below %u\n", argv[0], (unsigned)stop - 1u);
    return 2;
  }
  struct slot* ring = mmap(NULL, sizeof(struct slot) * ring_size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  laps = malloc(sizeof(double) * (size_t)(count / ring_size + 1));
  if (ring == MAP_FAILED || laps == NULL)
    return 1;
  pid_t parent = getpid(), pids[ring_size - 1];
  for (int i = 1; i < ring_size; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      kill_members(pids, i - 1);
      return 1;
    }
    if (pid == 0) {
      /* A member must not outlive the parent, which may be gone before prctl. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(1);
      serve(ring, i, NULL);
      _exit(0);
    }
    pids[i - 1] = pid;
  }
  last_lap = bench_now_ns();
  give(&ring[1], (uint32_t)count); /* the first hop: count-1 left after it */
  serve(ring, 0, time_lap);
  int clean = 1;
  for (int i = 0; i < ring_size - 1; ++i) {
    int status = 0;
    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      clean = 0;
  }
  munmap(ring, sizeof(struct slot) * ring_size);
  if (!clean || lap_count == 0) {
    fprintf(stderr, "floor_ring: %s\n", clean ? "the token never came round"
                                                : "a member did not exit cleanly");
    return 1;
  }
  bench_print(bench_median(laps, (size_t)lap_count) / 1e3 / ring_size, "us", "lower");
  free(laps);
  return 0;
}
