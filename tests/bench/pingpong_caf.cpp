// pingpong, impl `caf`: Savina PingPong in one CAF 0.17 process. A ping actor and a pong actor
// (event-based, on the default scheduler) play COUNT round trips after a warm-up; pong answers each
// ping by returning its reply from the handler.
//   bench_pingpong_caf COUNT
// Prints the median microseconds between two pongs arriving at ping (one round trip each).
#include "caf_peer.hpp"

#include <cstdint>
#include <utility>

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;

constexpr std::int64_t warmup_rounds = 1000;

caf::behavior pong(caf::event_based_actor*) {
  return {[](ping_atom, std::int64_t n) { return caf::make_message(pong_atom::value, n); }};
}

struct ping_state {
  std::vector<double> samples; ///< ns between consecutive pongs, warm-up rounds left out
  double last_pong = 0;
};

/// Sends ping n for n in [-warmup_rounds, count); writes the median to `out` and stops pong.
caf::behavior ping(caf::stateful_actor<ping_state>* self, std::int64_t count,
                   caf_peer::outcome* out) {
  auto partner = self->spawn(pong);
  self->state.samples.reserve(static_cast<std::size_t>(count));
  self->state.last_pong = bench_now_ns();
  self->send(partner, ping_atom::value, -warmup_rounds);
  return {[=](pong_atom, std::int64_t n) {
    double now = bench_now_ns();
    if (n >= 0)
      self->state.samples.push_back(now - self->state.last_pong);
    self->state.last_pong = now;
    if (n + 1 < count) {
      self->send(partner, ping_atom::value, n + 1);
      return;
    }
    out->set(caf_peer::median(self->state.samples) / 1e3, "us", "lower");
    self->send_exit(partner, caf::exit_reason::user_shutdown);
    self->quit();
  }};
}

} // namespace

int main(int argc, char** argv) {
  return caf_peer::run(argc, argv, "pingpong_caf",
                       [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
                         sys.spawn(ping, std::int64_t{count}, &out);
                       });
}
