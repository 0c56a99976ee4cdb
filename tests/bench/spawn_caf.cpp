// spawn, impl `caf`: start an actor, get its first reply, stop it and see it end, in one CAF 0.17
// process. A driver actor spawns a monitored worker, sends it a ping, stops it (an exit message)
// once the pong is back, and starts the next round on the down message.
//   bench_spawn_caf COUNT
// Prints the median microseconds of COUNT rounds (after warm-up rounds), spawn to down message.
#include "caf_peer.hpp"

#include <cstdint>

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using round_atom = caf::atom_constant<caf::atom("round")>;

constexpr std::int64_t warmup_rounds = 100;

caf::behavior worker(caf::event_based_actor*) {
  return {[](ping_atom) { return pong_atom::value; }};
}

struct driver_state {
  std::int64_t round = -warmup_rounds;
  caf::actor worker;
  double start = 0;
  std::vector<double> samples; ///< ns a round, warm-up rounds left out
};

caf::behavior driver(caf::stateful_actor<driver_state>* self, std::int64_t count,
                     caf_peer::outcome* out) {
  self->set_down_handler([=](caf::down_msg& down) {
    auto& st = self->state;
    if (down.source != st.worker.address())
      return;
    if (st.round >= 0)
      st.samples.push_back(bench_now_ns() - st.start);
    st.worker = nullptr;
    if (++st.round < count)
      return self->send(self, round_atom::value);
    out->set(caf_peer::median(st.samples) / 1e3, "us", "lower");
    self->quit();
  });
  self->send(self, round_atom::value);
  return {
    [=](round_atom) {
      auto& st = self->state;
      st.start = bench_now_ns();
      st.worker = self->spawn<caf::monitored>(worker);
      self->send(st.worker, ping_atom::value);
    },
    [=](pong_atom) { self->send_exit(self->state.worker, caf::exit_reason::user_shutdown); },
  };
}

} // namespace

int main(int argc, char** argv) {
  return caf_peer::run(argc, argv, "spawn_caf",
                       [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
                         sys.spawn(driver, std::int64_t{count}, &out);
                       });
}
