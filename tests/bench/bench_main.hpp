// The skeleton the C++ bench programs share: command line, error handling, warm-up and timed
// rounds, the child's exit check and the JSON line (through bench_report.h, shared with the C
// floors). Each program keeps only what it measures:
//
//   int main(int argc, char** argv) {
//     proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
//     return bench::run(argc, argv, "queue_rtt", [&](long count) { ... return bench::result{...}; });
//   }
#ifndef PROCTOR_BENCH_MAIN_HPP
#define PROCTOR_BENCH_MAIN_HPP

#include <proctor/process.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_report.h"

namespace bench {

/// What a program measured: printed as its one JSON line.
struct result {
  double value;
  const char* unit;   ///< "us", "items/s", "GB/s".
  const char* better; ///< "lower" or "higher".
};

/// Prints "usage: PROGRAM ARGS" to stderr; returns 2, main's exit code for a bad command line.
inline int usage(const char* program, const char* args) {
  std::fprintf(stderr, "usage: %s %s\n", program, args);
  return 2;
}

/// Calls `measure()` and prints the result it returns; returns main's exit code: 0, or 1 after
/// printing "NAME: what" to stderr if it threw.
template <class Measure>
int report(const char* name, Measure measure) {
  try {
    result r = measure();
    bench_print(r.value, r.unit, r.better);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  return 0;
}

/// main for a program whose command line is `COUNT`: reports `measure(count)`, or returns 2 after
/// printing the usage if COUNT is missing or not positive.
template <class Measure>
int run(int argc, char** argv, const char* name, Measure measure) {
  long count = argc == 2 ? std::atol(argv[1]) : 0;
  if (count <= 0)
    return usage(argv[0], "COUNT");
  return report(name, [&] { return measure(count); });
}

/// Calls `round(i)` for i in [0, warmup), dropping the values, then for i in [0, count) (count > 0);
/// returns the median of the latter.
template <class Round>
double median_of(long count, int warmup, Round round) {
  for (int i = 0; i < warmup; ++i)
    round(std::int64_t{i});
  std::vector<double> samples(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i] = round(static_cast<std::int64_t>(i));
  return bench_median(samples.data(), samples.size());
}

/// Joins `p` (at once if it was joined already) and throws unless it exited with 0; `role` names
/// it in the message ("child", "producer").
inline void require_clean_exit(proctor::process& p, const char* role) {
  p.join();
  if (auto code = p.exitcode(); code != 0)
    throw std::runtime_error(std::string("the ") + role + " did not exit with 0 (exit code "
                             + (code ? std::to_string(*code) : std::string{"none"}) + ")");
}

} // namespace bench

#endif
