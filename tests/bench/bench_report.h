/* Median and JSON report shared by the C and C++ benchmark programs. */
#ifndef PROCTOR_BENCH_REPORT_H
#define PROCTOR_BENCH_REPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* COUNT, the one argument of a floor program; 0 (with its usage printed) if it is missing or not
 * positive. */
static inline long bench_count(int argc, char** argv) {
  long count = argc == 2 ? atol(argv[1]) : 0;
  if (count <= 0)
    fprintf(stderr, "usage: %s COUNT\n", argv[0]);
  return count;
}

/* Monotonic time in nanoseconds. */
static inline double bench_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline int bench_compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* The median of `samples` (n > 0); reorders them. */
static inline double bench_median(double* samples, size_t n) {
  qsort(samples, n, sizeof(double), bench_compare);
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* The nearest-rank percentile `p` (0 < p <= 1) of `sorted` (n > 0, ascending). */
static inline double bench_percentile(const double* sorted, size_t n, double p) {
  size_t rank = (size_t)(p * (double)n);
  if ((double)rank < p * (double)n)
    ++rank; /* the ceiling, without libm */
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return sorted[rank - 1];
}

/* Prints one result line for run.py, which adds the bench and impl names. */
static inline void bench_print(double value, const char* unit, const char* better) {
  printf("{\"value\": %.2f, \"unit\": \"%s\", \"better\": \"%s\"}\n", value, unit, better);
  fflush(stdout);
}

#endif
