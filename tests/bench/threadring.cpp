// threadring, impl `proctor`: Savina ThreadRing — 100 actor processes in a ring pass a token
// COUNT hops (rounded up to whole laps); the actor that takes the last hop tells main.
//   bench_threadring COUNT
// Prints the median time of one lap (100 hops, timed by the first member, as the peers do)
// divided by 100, in microseconds.
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
  std::uint8_t first = 0; ///< 1: times the laps (not bool: CAF's bool path trips a GCC warning).
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, next_is& x) {
  return f(caf::meta::type_name("next_is"), x.next, x.report_to, x.first);
}

} // namespace

PROCTOR_MESSAGE(token, "bench.threadring.token");
PROCTOR_MESSAGE(next_is, "bench.threadring.next_is");

namespace {

struct member_state {
  next_is links;
  std::vector<double> laps;
  double lap_start = 0;
};

proctor::behavior member(proctor::actor& self) {
  auto st = std::make_shared<member_state>();
  return {
    [st](const next_is& n) { st->links = n; },
    [&self, st](token t) {
      if (st->links.first) {
        double now = bench_now_ns();
        if (st->lap_start != 0)
          st->laps.push_back(now - st->lap_start);
        st->lap_start = now;
      }
      if (t.hops_left == 0) {
        double lap = st->laps.empty() ? 0 : bench_median(st->laps.data(), st->laps.size());
        st->laps.clear();
        st->lap_start = 0;
        (void)self.send(st->links.report_to, lap);
      } else {
        (void)self.send(st->links.next, token{t.hops_left - 1});
      }
    },
  };
}

double run_ring(proctor::scoped_actor& self, const proctor::actor_ref& first, long hops) {
  // Whole laps: the last hop then lands on the first member, which holds the lap times.
  hops = (hops + ring_size - 1) / ring_size * ring_size;
  (void)self.send(first, token{hops});
  double lap = 0;
  if (!self.receive(std::chrono::minutes(5), [&](double t) { lap = t; }))
    throw std::runtime_error("threadring: the token got lost");
  return lap / 1e3 / ring_size;
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
                      next_is{ring[static_cast<std::size_t>((i + 1) % ring_size)], self.ref(), static_cast<std::uint8_t>(i == 0)});
    run_ring(self, ring[0], 1000); // warm-up
    double us = run_ring(self, ring[0], count);
    for (auto& m : ring)
      self.send_exit(m, {proctor::exit_kind::shutdown, 0, false, {}});
    return bench::result{us, "us", "lower"};
  });
}
