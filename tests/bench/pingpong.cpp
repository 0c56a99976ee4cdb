// pingpong, impl `proctor`: Savina PingPong between two actor processes — `ping` sends a ping,
// `pong` answers each with a pong, COUNT round trips; then ping reports to main.
//   bench_pingpong COUNT
// Prints the mean microseconds per round trip (the whole exchange divided by COUNT).
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

struct ball {
  std::int64_t left;
};
struct start_rally {
  std::int64_t rounds;
  proctor::actor_ref partner;
  proctor::actor_ref report_to;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_rally& x) {
  return f(caf::meta::type_name("start_rally"), x.rounds, x.partner, x.report_to);
}

} // namespace

PROCTOR_MESSAGE(ball, "bench.pingpong.ball");
PROCTOR_MESSAGE(start_rally, "bench.pingpong.start");

namespace {

proctor::behavior pong(proctor::actor& self) {
  return {[&self](ball b) { (void)self.send(self.current_sender(), b); }};
}

proctor::behavior ping(proctor::actor& self) {
  auto report_to = std::make_shared<proctor::actor_ref>();
  auto started = std::make_shared<double>(0);
  return {
    [&self, report_to, started](const start_rally& s) {
      *report_to = s.report_to;
      *started = bench_now_ns();
      (void)self.send(s.partner, ball{s.rounds});
    },
    [&self, report_to, started](ball b) {
      if (b.left > 1)
        (void)self.send(self.current_sender(), ball{b.left - 1});
      else
        (void)self.send(*report_to, bench_now_ns() - *started);
    },
  };
}

double rally(proctor::scoped_actor& self, const proctor::actor_ref& pinger,
             const proctor::actor_ref& ponger, std::int64_t rounds) {
  (void)self.send(pinger, start_rally{rounds, ponger, self.ref()});
  double ns = -1;
  if (!self.receive(std::chrono::minutes(2), [&](double elapsed) { ns = elapsed; }))
    throw std::runtime_error("pingpong: no result");
  return ns;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  return bench::run(argc, argv, "pingpong", [](long count) {
    proctor::scoped_actor self;
    auto ponger = proctor::spawn<pong>();
    auto pinger = proctor::spawn<ping>();
    rally(self, pinger, ponger, 1000); // warm-up
    double ns = rally(self, pinger, ponger, count);
    self.send_exit(pinger, {proctor::exit_kind::shutdown, 0, false, {}});
    self.send_exit(ponger, {proctor::exit_kind::shutdown, 0, false, {}});
    return bench::result{ns / 1e3 / static_cast<double>(count), "us", "lower"};
  });
}
