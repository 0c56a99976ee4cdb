// spawn, impl `proctor`: spawn an actor (start method fork, the quickest start here; a supervisor
// starts its children from its zygote), get its first reply, and see it end (its DOWN), COUNT
// times.
//   bench_spawn COUNT
// Prints the median microseconds of one spawn-reply-stop cycle.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

struct hello {};

} // namespace

PROCTOR_MESSAGE(hello, "bench.spawn.hello");

namespace {

proctor::behavior greeter(proctor::actor& self) {
  return {[&self](hello) {
    self.quit();
    return std::int32_t{42};
  }};
}

double cycle(proctor::scoped_actor& self) {
  double start = bench_now_ns();
  auto a = proctor::spawn<greeter>(
    proctor::spawn_options{.method = proctor::start_method::fork, .mailbox_bytes = 4096});
  self.monitor(a);
  auto r = self.request<std::int32_t>(a, std::chrono::seconds(30), hello{});
  if (!r || *r != 42)
    throw std::runtime_error("spawn: no first reply");
  if (!self.receive(std::chrono::seconds(30), [](const proctor::down_msg&) {}))
    throw std::runtime_error("spawn: the actor did not end");
  return (bench_now_ns() - start) / 1e3;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  return bench::run(argc, argv, "spawn", [](long count) {
    proctor::scoped_actor self;
    return bench::result{bench::median_of(count, 50, [&](std::int64_t) { return cycle(self); }),
                         "us", "lower"};
  });
}
