// counting, impl `caf`: Savina Counting in one CAF 0.17 process. A producer actor sends increments
// to a counter actor, then requests the total and checks it; COUNT messages in five timed rounds
// after a warm-up round (the counter keeps counting across rounds).
//   bench_counting_caf COUNT
// Prints the median messages per second of the rounds; a round lasts from its first send until the
// total is back at the producer.
#include "caf_peer.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

using increment_atom = caf::atom_constant<caf::atom("increment")>;
using total_atom = caf::atom_constant<caf::atom("total")>;
using round_atom = caf::atom_constant<caf::atom("round")>;

constexpr int timed_rounds = 5;
constexpr std::int64_t warmup_messages = 1000;

struct counter_state {
  std::int64_t total = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
    [=](increment_atom) { ++self->state.total; },
    [=](total_atom) { return self->state.total; },
  };
}

struct producer_state {
  caf::actor counter;
  int round = -1;             ///< -1: the warm-up round
  std::int64_t expected = 0;  ///< the counter's total after this round
  std::vector<double> rates;  ///< messages per second of the timed rounds
};

caf::behavior producer(caf::stateful_actor<producer_state>* self, std::int64_t count,
                       caf_peer::outcome* out) {
  self->state.counter = self->spawn(counter);
  self->send(self, round_atom::value);
  auto finish = [=](std::string error) {
    if (error.empty())
      out->set(caf_peer::median(self->state.rates), "msgs/s", "higher");
    else
      out->error = std::move(error);
    self->send_exit(self->state.counter, caf::exit_reason::user_shutdown);
    self->quit();
  };
  return {[=](round_atom) {
    auto& st = self->state;
    std::int64_t n =
      st.round < 0 ? warmup_messages : std::max<std::int64_t>(1, count / timed_rounds);
    st.expected += n;
    double start = bench_now_ns();
    for (std::int64_t i = 0; i < n; ++i)
      self->send(st.counter, increment_atom::value);
    self->request(st.counter, caf::infinite, total_atom::value)
      .then(
        [=](std::int64_t total) {
          auto& st = self->state;
          if (total != st.expected)
            return finish("the counter's total is " + std::to_string(total) + ", not "
                          + std::to_string(st.expected));
          if (st.round >= 0)
            st.rates.push_back(static_cast<double>(n) / ((bench_now_ns() - start) / 1e9));
          if (++st.round == timed_rounds)
            return finish({});
          self->send(self, round_atom::value);
        },
        [=](caf::error& e) { finish("the counter failed: " + self->system().render(e)); });
  }};
}

} // namespace

int main(int argc, char** argv) {
  return caf_peer::run(argc, argv, "counting_caf",
                       [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
                         sys.spawn(producer, std::int64_t{count}, &out);
                       });
}
