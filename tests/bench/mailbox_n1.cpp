// mailbox_n1, impl `proctor`: 20 sender actors (20 processes) each send COUNT messages to one
// receiver actor, which tells main when it has them all.
//   bench_mailbox_n1 COUNT        (messages per sender)
// Prints messages per second over all senders, from "go" to the receiver's last message.
#include <proctor/proctor.hpp>

#include <cstdint>
#include <stdexcept>

#include "bench_main.hpp"

namespace {

constexpr int senders = 20;

struct item {
  std::int64_t n;
};
struct expect {
  std::int64_t total;
  proctor::actor_ref report_to;
};
struct go {
  std::int64_t count;
  proctor::actor_ref to;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expect& x) {
  return f(caf::meta::type_name("expect"), x.total, x.report_to);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, go& x) {
  return f(caf::meta::type_name("go"), x.count, x.to);
}

} // namespace

PROCTOR_MESSAGE(item, "bench.mailbox_n1.item");
PROCTOR_MESSAGE(expect, "bench.mailbox_n1.expect");
PROCTOR_MESSAGE(go, "bench.mailbox_n1.go");

namespace {

proctor::behavior receiver(proctor::actor& self) {
  auto seen = std::make_shared<std::int64_t>(0);
  auto goal = std::make_shared<expect>();
  return {
    [goal, seen](const expect& e) {
      *goal = e;
      *seen = 0;
    },
    [&self, goal, seen](item) {
      if (++*seen == goal->total)
        (void)self.send(goal->report_to, bench_now_ns());
    },
  };
}

proctor::behavior sender(proctor::actor& self) {
  return {[&self](const go& g) {
    for (std::int64_t i = 0; i < g.count; ++i)
      if (!self.send(g.to, item{i}))
        throw std::runtime_error("mailbox_n1: send failed");
  }};
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  return bench::run(argc, argv, "mailbox_n1", [](long count) {
    proctor::scoped_actor self;
    auto sink = proctor::spawn<receiver>(proctor::spawn_options{.mailbox_bytes = 4 << 20});
    std::vector<proctor::actor_ref> from;
    for (int i = 0; i < senders; ++i)
      from.push_back(proctor::spawn<sender>());
    (void)self.send(sink, expect{std::int64_t{count} * senders, self.ref()});
    // The expect is queued before any item: the receiver takes it first.
    double start = bench_now_ns();
    for (auto& s : from)
      (void)self.send(s, go{count, sink});
    double end = 0;
    if (!self.receive(std::chrono::minutes(5), [&](double t) { end = t; }))
      throw std::runtime_error("mailbox_n1: the receiver did not get every message");
    for (auto& s : from)
      self.send_exit(s, {proctor::exit_kind::shutdown, 0, false, {}});
    self.send_exit(sink, {proctor::exit_kind::shutdown, 0, false, {}});
    return bench::result{static_cast<double>(count) * senders / ((end - start) / 1e9), "msgs/s",
                         "higher"};
  });
}
