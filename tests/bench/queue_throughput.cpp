// queue_throughput, impl `proctor`: small items (8-byte integers) through a proctor::queue from a
// producer process to a consumer process (this one).
//   bench_queue_throughput COUNT
// COUNT items in five rounds; each round is timed by the consumer from the moment it tells the
// waiting producer to go until it has received the round's last item. Prints the median items/s
// of the rounds as a JSON line.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

constexpr int rounds = 5;

using items = proctor::queue<std::int64_t>;

/// The producer: for each go signal (a count), puts that many items; stops when `go` is closed.
void produce(items go, items q) {
  while (auto n = go.get()) {
    for (std::int64_t i = 0; i < *n; ++i)
      if (!q.put(i))
        throw std::runtime_error("queue_throughput: put failed");
  }
}

/// One round: `n` items, in items per second.
double one_round(items& go, items& q, std::int64_t n) {
  double start = bench_now_ns();
  if (!go.put(n))
    throw std::runtime_error("queue_throughput: go failed");
  for (std::int64_t i = 0; i < n; ++i) {
    auto item = q.get();
    if (!item || *item != i)
      throw std::runtime_error("queue_throughput: an item was lost or out of order");
  }
  return static_cast<double>(n) / ((bench_now_ns() - start) / 1e9);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  return bench::run(argc, argv, "queue_throughput", [](long count) {
    items go;
    items q;
    proctor::process producer{proctor::entry<produce>, go, q};
    producer.start();
    one_round(go, q, 1000); // warm-up: the producer is running and the ring's pages are touched
    std::int64_t per_round = count < rounds ? 1 : count / rounds;
    double rate =
        bench::median_of(rounds, 0, [&](std::int64_t) { return one_round(go, q, per_round); });
    go.close();
    bench::require_clean_exit(producer, "producer");
    return bench::result{rate, "items/s", "higher"};
  });
}
