/* Median and JSON report shared by the C and C++ benchmark programs. */
#ifndef PROCTOR_BENCH_REPORT_H
#define PROCTOR_BENCH_REPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* Prints one result line for run.py, which adds the bench and impl names. */
static inline void bench_print(double value, const char* unit, const char* better) {
  printf("{\"value\": %.2f, \"unit\": \"%s\", \"better\": \"%s\"}\n", value, unit, better);
  fflush(stdout);
}

#endif
