// queue_rtt, impl `proctor`: a round trip between two processes over proctor::queue — this one
// puts a ping on one queue, a child gets it and puts a pong on another queue, this one gets it.
//   bench_queue_rtt COUNT
// Prints the median microseconds of COUNT round trips (after warm-up rounds) as a JSON line.
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

using words = proctor::queue<std::int64_t>;

/// The child: answers every ping with the same number until `ping` is closed.
void ponger(words ping, words pong) {
  while (auto n = ping.get())
    if (!pong.put(*n))
      throw std::runtime_error("queue_rtt: pong failed");
}

/// One round trip, in microseconds.
double round_trip(words& ping, words& pong, std::int64_t n) {
  double start = bench_now_ns();
  if (!ping.put(n))
    throw std::runtime_error("queue_rtt: ping failed");
  auto back = pong.get();
  double elapsed = bench_now_ns() - start;
  if (!back || *back != n)
    throw std::runtime_error("queue_rtt: the pong does not match the ping");
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
    words ping;
    words pong;
    proctor::process child{proctor::entry<ponger>, ping, pong};
    child.start();
    for (int i = 0; i < warmup_rounds; ++i)
      round_trip(ping, pong, i);
    std::vector<double> samples(static_cast<size_t>(count));
    for (size_t i = 0; i < samples.size(); ++i)
      samples[i] = round_trip(ping, pong, static_cast<std::int64_t>(i));
    ping.close();
    child.join();
    if (child.exitcode() != 0)
      throw std::runtime_error("the child did not exit with 0");
    bench_print(bench_median(samples.data(), samples.size()), "us", "lower");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "queue_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
