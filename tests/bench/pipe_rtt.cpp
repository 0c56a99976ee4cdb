// pipe_rtt, impl `proctor`: a round trip between two processes over one duplex proctor::pipe —
// this one sends a ping on its end, a child receives it on the other end and sends it back, this
// one receives it.
//   bench_pipe_rtt COUNT
// Prints the median microseconds of COUNT round trips (after warm-up rounds) as a JSON line.
#include <proctor/pipe.hpp>
#include <proctor/proctor.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <vector>

#include "bench_report.h"

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
  long count = argc == 2 ? std::atol(argv[1]) : 0;
  if (count <= 0) {
    std::fprintf(stderr, "usage: %s COUNT\n", argv[0]);
    return 2;
  }
  try {
    auto [mine, theirs] = proctor::pipe<std::int64_t>();
    proctor::process child{proctor::entry<ponger>, theirs};
    child.start();
    theirs.close(); // as in Python: the child's end is the child's alone
    for (int i = 0; i < warmup_rounds; ++i)
      round_trip(mine, i);
    std::vector<double> samples(static_cast<size_t>(count));
    for (size_t i = 0; i < samples.size(); ++i)
      samples[i] = round_trip(mine, static_cast<std::int64_t>(i));
    mine.close(); // the child reads end of file and returns
    child.join();
    if (child.exitcode() != 0)
      throw std::runtime_error("the child did not exit with 0");
    bench_print(bench_median(samples.data(), samples.size()), "us", "lower");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipe_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
