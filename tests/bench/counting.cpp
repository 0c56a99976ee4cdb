// counting, impl `proctor`: Savina Counting — main sends COUNT increments to a counter actor in
// another process, then asks it for the total (and checks it).
//   bench_counting COUNT
// Prints messages per second, from the first send to the total's arrival.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

struct increment {
  std::int64_t by;
};
struct get_total {};

} // namespace

PROCTOR_MESSAGE(increment, "bench.counting.increment");
PROCTOR_MESSAGE(get_total, "bench.counting.get_total");

namespace {

proctor::behavior counter(proctor::actor&) {
  auto total = std::make_shared<std::int64_t>(0);
  return {
    [total](increment i) { *total += i.by; },
    [total](get_total) {
      auto t = *total;
      *total = 0;
      return t;
    },
  };
}

double count_to(proctor::scoped_actor& self, const proctor::actor_ref& c, long n) {
  double start = bench_now_ns();
  for (long i = 0; i < n; ++i)
    if (!self.send(c, increment{1}))
      throw std::runtime_error("counting: send failed");
  auto total = self.request<std::int64_t>(c, std::chrono::minutes(2), get_total{});
  double elapsed = bench_now_ns() - start;
  if (!total || *total != n)
    throw std::runtime_error("counting: wrong total");
  return static_cast<double>(n) / (elapsed / 1e9);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  return bench::run(argc, argv, "counting", [](long count) {
    proctor::scoped_actor self;
    auto c = proctor::spawn<counter>(proctor::spawn_options{.mailbox_bytes = 1 << 20});
    count_to(self, c, 10000); // warm-up
    double rate = count_to(self, c, count);
    self.send_exit(c, {proctor::exit_kind::shutdown, 0, false, {}});
    return bench::result{rate, "msgs/s", "higher"};
  });
}
