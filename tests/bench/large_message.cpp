// large_message, impl `proctor`: 1 MiB items (std::vector<char>, which travels as raw bytes)
// through a proctor::queue of 4 MiB from a producer process to a consumer process (this one).
//   bench_large_message COUNT
// COUNT items in five rounds; each round is timed by the consumer from the moment it tells the
// waiting producer to go until it has received the round's last item. Prints the median GB/s
// (1e9 bytes of items per second) of the rounds as a JSON line.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bench_main.hpp"

namespace {

constexpr int rounds = 5;
constexpr std::size_t message_bytes = 1 << 20;

using messages = proctor::queue<std::vector<char>>;
using counts = proctor::queue<std::int64_t>;

/// The producer: for each go signal (a count), puts that many messages; stops when `go` is closed.
void produce(counts go, messages q) {
  std::vector<char> message(message_bytes, 'x');
  while (auto n = go.get()) {
    for (std::int64_t i = 0; i < *n; ++i) {
      message.front() = static_cast<char>(i);
      if (!q.put(message))
        throw std::runtime_error("large_message: put failed");
    }
  }
}

/// One round: `n` messages, in GB/s.
double one_round(counts& go, messages& q, std::int64_t n) {
  double start = bench_now_ns();
  if (!go.put(n))
    throw std::runtime_error("large_message: go failed");
  for (std::int64_t i = 0; i < n; ++i) {
    auto message = q.get();
    if (!message || message->size() != message_bytes || message->front() != static_cast<char>(i))
      throw std::runtime_error("large_message: a message was lost, cut or out of order");
  }
  return static_cast<double>(n) * message_bytes / (bench_now_ns() - start); // bytes/ns = GB/s
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  return bench::run(argc, argv, "large_message", [](long count) {
    counts go;
    messages q{messages::options{.capacity_bytes = 4 * message_bytes + 4096}};
    proctor::process producer{proctor::entry<produce>, go, q};
    producer.start();
    one_round(go, q, 8); // warm-up: the producer is running and the ring's pages are touched
    std::int64_t per_round = count < rounds ? 1 : count / rounds;
    double rate =
        bench::median_of(rounds, 0, [&](std::int64_t) { return one_round(go, q, per_round); });
    go.close();
    bench::require_clean_exit(producer, "producer");
    return bench::result{rate, "GB/s", "higher"};
  });
}
