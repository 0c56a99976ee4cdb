// threadring, impl `caf`: Savina ThreadRing in one CAF 0.17 process. 100 actors in a ring pass a
// token COUNT hops; each hop sends it to the next actor with one hop fewer left. The actor that
// gets it with none left sends a stop around the ring, and each actor quits as the stop passes.
//   bench_threadring_caf COUNT
// Prints the median microseconds a hop of the laps: the head (member 0) times each lap of 100 hops.
#include "caf_peer.hpp"

#include <cstdint>

namespace {

using token_atom = caf::atom_constant<caf::atom("token")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

constexpr int ring_size = 100;

struct member_state {
  caf::actor next;
  bool stopping = false;      ///< this member sent the stop; it quits when the stop is back
  double last_lap = 0;        ///< head only: when the token last came by
  std::vector<double> laps;   ///< head only: ns a lap
};

/// The handlers every member has. The head (member 0) gets `out`: it times the laps and reports
/// them as the stop passes it.
caf::behavior ring_behavior(caf::stateful_actor<member_state>* self, caf_peer::outcome* out) {
  return {
    [=](token_atom, std::int64_t hops_left) {
      auto& st = self->state;
      if (out) {
        double now = bench_now_ns();
        st.laps.push_back(now - st.last_lap);
        st.last_lap = now;
      }
      if (hops_left > 0)
        return self->send(st.next, token_atom::value, hops_left - 1);
      st.stopping = true;
      self->send(st.next, stop_atom::value);
    },
    [=](stop_atom) {
      auto& st = self->state;
      if (!st.stopping)
        self->send(st.next, stop_atom::value);
      if (out && st.laps.empty())
        out->error = "the token never came round";
      else if (out)
        out->set(caf_peer::median(st.laps) / 1e3 / ring_size, "us", "lower");
      self->quit();
    },
  };
}

caf::behavior member(caf::stateful_actor<member_state>* self, caf::actor next) {
  self->state.next = std::move(next);
  return ring_behavior(self, nullptr);
}

/// Member 0: builds the rest of the ring and starts the token.
caf::behavior head(caf::stateful_actor<member_state>* self, std::int64_t hops,
                   caf_peer::outcome* out) {
  caf::actor next{self};
  for (int i = ring_size - 1; i > 0; --i)
    next = self->spawn(member, next);
  self->state.next = next;
  self->state.last_lap = bench_now_ns();
  self->send(next, token_atom::value, hops - 1);
  return ring_behavior(self, out);
}

} // namespace

int main(int argc, char** argv) {
  return caf_peer::run(argc, argv, "threadring_caf",
                       [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
                         sys.spawn(head, std::int64_t{count}, &out);
                       });
}
