// mailbox_n1, impl `caf`: 20 sender actors each send COUNT small messages to one receiver actor, in
// one CAF 0.17 process; five timed rounds of COUNT/5 messages a sender, after a warm-up round.
//   bench_mailbox_n1_caf COUNT
// Prints the median messages per second of the rounds; a round lasts from the receiver's go to
// the senders until it has received the round's last message.
#include "caf_peer.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using round_atom = caf::atom_constant<caf::atom("round")>;

constexpr int senders = 20;
constexpr int timed_rounds = 5;
constexpr std::int64_t warmup_messages = 1000; // a sender, in the warm-up round

/// Sends n messages 0..n-1 to `to` for each go.
caf::behavior sender(caf::event_based_actor* self) {
  return {[=](go_atom, std::int64_t n, const caf::actor& to) {
    for (std::int64_t i = 0; i < n; ++i)
      self->send(to, i);
  }};
}

struct receiver_state {
  std::vector<caf::actor> senders;
  int round = -1;             ///< -1: the warm-up round
  std::int64_t per_sender = 0;
  std::int64_t received = 0;  ///< in this round
  std::int64_t sum = 0;       ///< of the payloads received in this round
  double start = 0;
  std::vector<double> rates;  ///< messages per second of the timed rounds
};

caf::behavior receiver(caf::stateful_actor<receiver_state>* self, std::int64_t count,
                       caf_peer::outcome* out) {
  for (int i = 0; i < senders; ++i)
    self->state.senders.push_back(self->spawn(sender));
  self->send(self, round_atom::value);
  return {
    [=](round_atom) {
      auto& st = self->state;
      st.per_sender =
        st.round < 0 ? warmup_messages : std::max<std::int64_t>(1, count / timed_rounds);
      st.received = st.sum = 0;
      st.start = bench_now_ns();
      for (auto& s : st.senders)
        self->send(s, go_atom::value, st.per_sender, caf::actor{self});
    },
    [=](std::int64_t payload) {
      auto& st = self->state;
      st.sum += payload;
      if (++st.received < senders * st.per_sender)
        return;
      if (st.round >= 0)
        st.rates.push_back(static_cast<double>(st.received) / ((bench_now_ns() - st.start) / 1e9));
      bool intact = st.sum == senders * (st.per_sender * (st.per_sender - 1) / 2);
      if (intact && ++st.round < timed_rounds)
        return self->send(self, round_atom::value);
      if (intact)
        out->set(caf_peer::median(st.rates), "msgs/s", "higher");
      else
        out->error = "a message was lost or corrupted";
      for (auto& s : st.senders)
        self->send_exit(s, caf::exit_reason::user_shutdown);
      self->quit();
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  return caf_peer::run(argc, argv, "mailbox_n1_caf",
                       [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
                         sys.spawn(receiver, std::int64_t{count}, &out);
                       });
}
