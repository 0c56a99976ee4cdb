/* restart_p50 and restart_p99, impl `floor`: what the OS alone costs for a crash and a
 * replacement that handles a message. A parent runs one child that answers each byte on a pipe;
 * a round SIGKILLs it, learns of its death through its pidfd (poll), reaps it, forks the
 * replacement and sends it a byte, and ends when the answer is back. No framework, no mailbox,
 * no zygote: the floor under any supervisor made of OS processes.
 *   bench_floor_restart COUNT
 * Prints two JSON lines that name their bench: the median and the 99th percentile (nearest rank)
 * of COUNT rounds, after a few warm-up rounds, in microseconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_report.h"

enum { warmup_rounds = 20 };

struct worker {
  pid_t pid;
  int pidfd;
  int to_child;   /* the parent writes requests here */
  int from_child; /* and reads answers here */
};

static void die(const char* what) {
  perror(what);
  exit(1);
}

/* Forks a worker that answers every byte it reads with the same byte. */
static struct worker start_worker(void) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
    die("pipe2");
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    char c;
    while (read(down[0], &c, 1) == 1)
      if (write(up[1], &c, 1) != 1)
        _exit(1);
    _exit(0);
  }
  close(down[0]);
  close(up[1]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    die("pidfd_open");
  struct worker w = {pid, pidfd, down[1], up[0]};
  return w;
}

static void stop_worker(struct worker* w) {
  close(w->to_child);
  close(w->from_child);
  close(w->pidfd);
}

static void ask(struct worker* w) {
  char c = 'p';
  if (write(w->to_child, &c, 1) != 1 || read(w->from_child, &c, 1) != 1)
    die("ask");
}

/* Kill, see the death, reap, replace, first answer: nanoseconds. */
static double one_round(struct worker* w) {
  ask(w); /* the worker runs and is idle, as a supervised child waiting for work */
  double start = bench_now_ns();
  if (kill(w->pid, SIGKILL) != 0)
    die("kill");
  struct pollfd p = {w->pidfd, POLLIN, 0};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR)
      die("poll");
  if (waitpid(w->pid, NULL, 0) != w->pid)
    die("waitpid");
  stop_worker(w);
  *w = start_worker();
  ask(w);
  return bench_now_ns() - start;
}

int main(int argc, char** argv) {
  long count = bench_count(argc, argv);
  if (count <= 0)
    return 2;
  double* samples = malloc(sizeof(double) * (size_t)count);
  if (samples == NULL)
    return 1;
  struct worker w = start_worker();
  for (int i = 0; i < warmup_rounds; ++i)
    one_round(&w);
  for (long i = 0; i < count; ++i)
    samples[i] = one_round(&w) / 1e3;
  kill(w.pid, SIGKILL);
  waitpid(w.pid, NULL, 0);
  stop_worker(&w);
  double p50 = bench_median(samples, (size_t)count); /* sorts them */
  double p99 = bench_percentile(samples, (size_t)count, 0.99);
  printf("{\"bench\": \"restart_p50\", \"value\": %.2f, \"unit\": \"us\", \"better\": \"lower\"}\n", p50);
  printf("{\"bench\": \"restart_p99\", \"value\": %.2f, \"unit\": \"us\", \"better\": \"lower\"}\n", p99);
  fprintf(stderr, "restart: floor p50 %.1f us, p99 %.1f us\n", p50, p99);
  free(samples);
  return 0;
}
