// process_start, impls `proctor-fork`, `proctor-forkserver`, `proctor-spawn`: make a process whose
// target returns at once, start it and join it.
//   bench_process_start fork|forkserver|spawn COUNT
// Prints the median microseconds of COUNT rounds (after a few warm-up rounds) as a JSON line.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <cstdlib>
#include <optional>

#include "bench_main.hpp"

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
  bench::require_clean_exit(p, "child"); // already joined: only checks, outside the timing
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
  if (!method || count <= 0)
    return bench::usage(argv[0], "fork|forkserver|spawn COUNT");
  return bench::report("process_start", [&] {
    auto ctx = proctor::get_context(*method);
    double us = bench::median_of(count, warmup_rounds,
                                 [&](std::int64_t) { return start_and_join(ctx); });
    return bench::result{us, "us", "lower"};
  });
}
