// queue_rtt, impl `proctor`: a round trip between two processes over proctor::queue — this one
// puts a ping on one queue, a child gets it and puts a pong on another queue, this one gets it.
//   bench_queue_rtt COUNT
// Prints the median microseconds of COUNT round trips (after warm-up rounds) as a JSON line.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

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
  return bench::run(argc, argv, "queue_rtt", [](long count) {
    words ping;
    words pong;
    proctor::process child{proctor::entry<ponger>, ping, pong};
    child.start();
    double us = bench::median_of(count, warmup_rounds,
                                 [&](std::int64_t i) { return round_trip(ping, pong, i); });
    ping.close();
    bench::require_clean_exit(child, "child");
    return bench::result{us, "us", "lower"};
  });
}
