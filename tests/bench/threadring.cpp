// threadring, impl `proctor`: Savina ThreadRing — 100 actor processes in a ring pass a token
// COUNT hops; the actor that takes the last hop tells main.
//   bench_threadring COUNT
// Prints the mean microseconds per hop.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bench_main.hpp"

namespace {

constexpr int ring_size = 100;

struct token {
  std::int64_t hops_left;
};
struct next_is {
  proctor::actor_ref next;
  proctor::actor_ref report_to;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, next_is& x) {
  return f(caf::meta::type_name("next_is"), x.next, x.report_to);
}

} // namespace

PROCTOR_MESSAGE(token, "bench.threadring.token");
PROCTOR_MESSAGE(next_is, "bench.threadring.next_is");

namespace {

proctor::behavior member(proctor::actor& self) {
  auto links = std::make_shared<next_is>();
  return {
    [links](const next_is& n) { *links = n; },
    [&self, links](token t) {
      if (t.hops_left == 0)
        (void)self.send(links->report_to, bench_now_ns());
      else
        (void)self.send(links->next, token{t.hops_left - 1});
    },
  };
}

double run_ring(proctor::scoped_actor& self, const proctor::actor_ref& first, long hops) {
  double start = bench_now_ns();
  (void)self.send(first, token{hops});
  double end = 0;
  if (!self.receive(std::chrono::minutes(5), [&](double t) { end = t; }))
    throw std::runtime_error("threadring: the token got lost");
  return (end - start) / 1e3 / static_cast<double>(hops);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  return bench::run(argc, argv, "threadring", [](long count) {
    proctor::scoped_actor self;
    std::vector<proctor::actor_ref> ring;
    for (int i = 0; i < ring_size; ++i)
      ring.push_back(proctor::spawn<member>(proctor::spawn_options{.mailbox_bytes = 16 * 1024}));
    for (int i = 0; i < ring_size; ++i)
      (void)self.send(ring[static_cast<std::size_t>(i)],
                      next_is{ring[static_cast<std::size_t>((i + 1) % ring_size)], self.ref()});
    run_ring(self, ring[0], 1000); // warm-up
    double us = run_ring(self, ring[0], count);
    for (auto& m : ring)
      self.send_exit(m, {proctor::exit_kind::shutdown, 0, false, {}});
    return bench::result{us, "us", "lower"};
  });
}
