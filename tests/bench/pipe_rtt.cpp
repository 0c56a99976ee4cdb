// pipe_rtt, impl `proctor`: a round trip between two processes over one duplex proctor::pipe —
// this one sends a ping on its end, a child receives it on the other end and sends it back, this
// one receives it.
//   bench_pipe_rtt COUNT
// Prints the median microseconds of COUNT round trips (after warm-up rounds) as a JSON line.
#include <proctor/pipe.hpp>
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

constexpr int warmup_rounds = 1000;

using pipe_end = proctor::connection<std::int64_t>;

/// The child: echoes every ping on its end until end of file.
void ponger(pipe_end c) {
  while (auto n = c.recv())
    if (!c.send(*n))
      throw std::runtime_error("pipe_rtt: pong failed");
}

/// One round trip, in microseconds.
double round_trip(pipe_end& c, std::int64_t n) {
  double start = bench_now_ns();
  if (!c.send(n))
    throw std::runtime_error("pipe_rtt: ping failed");
  auto back = c.recv();
  double elapsed = bench_now_ns() - start;
  if (!back || *back != n)
    throw std::runtime_error("pipe_rtt: the pong does not match the ping");
  return elapsed / 1e3;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  return bench::run(argc, argv, "pipe_rtt", [](long count) {
    auto [mine, theirs] = proctor::pipe<std::int64_t>();
    proctor::process child{proctor::entry<ponger>, theirs};
    child.start();
    theirs.close(); // as in Python: the child's end is the child's alone
    double us = bench::median_of(count, warmup_rounds,
                                 [&](std::int64_t i) { return round_trip(mine, i); });
    mine.close(); // the child reads end of file and returns
    bench::require_clean_exit(child, "child");
    return bench::result{us, "us", "lower"};
  });
}
