// pingpong, impl `proctor`: Savina PingPong between two actor processes — `ping` sends a ping,
// `pong` answers each with a pong, COUNT round trips; then ping reports to main.
//   bench_pingpong COUNT
// Prints the median microseconds of one round trip (timed by ping, as the peers do).
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

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

struct rally_state {
  proctor::actor_ref report_to;
  std::vector<double> samples;
  double sent_at = 0;
};

proctor::behavior ping(proctor::actor& self) {
  auto st = std::make_shared<rally_state>();
  return {
    [&self, st](const start_rally& s) {
      st->report_to = s.report_to;
      st->samples.clear();
      st->samples.reserve(static_cast<std::size_t>(s.rounds));
      st->sent_at = bench_now_ns();
      (void)self.send(s.partner, ball{s.rounds});
    },
    [&self, st](ball b) {
      double now = bench_now_ns();
      st->samples.push_back(now - st->sent_at);
      if (b.left > 1) {
        st->sent_at = bench_now_ns();
        (void)self.send(self.current_sender(), ball{b.left - 1});
      } else {
        (void)self.send(st->report_to, bench_median(st->samples.data(), st->samples.size()));
      }
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
    return bench::result{ns / 1e3, "us", "lower"};
  });
}
