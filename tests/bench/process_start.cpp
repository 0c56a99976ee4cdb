// process_start, impls `proctor-fork`, `proctor-forkserver`, `proctor-spawn`: make a process whose
// target returns at once, start it and join it.
//   bench_process_start fork|forkserver|spawn COUNT
// Prints the median microseconds of COUNT rounds (after a few warm-up rounds) as a JSON line.
#include <proctor/proctor.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_report.h"

namespace {

constexpr int warmup_rounds = 10;

void exit_at_once() {}

/// One make+start+join round in microseconds. Throws if the child does not exit with 0.
double start_and_join(const proctor::context& ctx) {
  double start = bench_now_ns();
  auto p = ctx.make_process(proctor::entry<exit_at_once>);
  p.start();
  p.join();
  double elapsed = bench_now_ns() - start;
  if (p.exitcode() != 0)
    throw std::runtime_error("the child did not exit with 0");
  return elapsed / 1e3;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  std::optional<proctor::start_method> method;
  long count = 0;
  if (argc == 3) {
    method = proctor::parse_start_method(argv[1]);
    count = std::atol(argv[2]);
  }
  if (!method || count <= 0) {
    std::fprintf(stderr, "usage: %s fork|forkserver|spawn COUNT\n", argv[0]);
    return 2;
  }
  try {
    auto ctx = proctor::get_context(*method);
    for (int i = 0; i < warmup_rounds; ++i)
      start_and_join(ctx);
    std::vector<double> samples(static_cast<size_t>(count));
    for (auto& s : samples)
      s = start_and_join(ctx);
    bench_print(bench_median(samples.data(), samples.size()), "us", "lower");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "process_start: %s\n", e.what());
    return 1;
  }
  return 0;
}
