#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_ref;

// -- messages ----------------------------------------------------------------------------------

/// Sends tm_tick{value} to `to` after `ms`, and tm_tick{-1} at once.
struct tm_arm {
  actor_ref to;
  std::int32_t ms = 0;
  std::int32_t value = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tm_arm& x) {
  return f(caf::meta::type_name("tm_arm"), x.to, x.ms, x.value);
}
PROCTOR_MESSAGE(tm_arm, "test.timers.arm");

struct tm_tick {
  std::int32_t n;
};
PROCTOR_MESSAGE(tm_tick, "test.timers.tick");

/// Sends tm_tick{0}, tm_tick{1}, ... to `to` every `period_ms`; with `limit` > 0 the timer
/// cancels itself from its own callback after `limit` ticks and then sends tm_quiet.
struct tm_start {
  actor_ref to;
  std::int32_t period_ms = 0;
  std::int32_t limit = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tm_start& x) {
  return f(caf::meta::type_name("tm_start"), x.to, x.period_ms, x.limit);
}
PROCTOR_MESSAGE(tm_start, "test.timers.start");

/// Cancels the periodic timer; answered with the number of ticks sent. Ten periods later the
/// actor sends tm_quiet: a tick of a timer that was not cancelled would come before it.
struct tm_stop {};
PROCTOR_MESSAGE(tm_stop, "test.timers.stop");

/// Starts a rally: the actor sends tm_ball to `partner`, each returns every ball to its sender at
/// once, and after `ms` the actor's timer ends the rally and sends `report` tm_tick with the
/// number of balls it returned.
struct tm_rally {
  actor_ref partner;
  actor_ref report;
  std::int32_t ms = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tm_rally& x) {
  return f(caf::meta::type_name("tm_rally"), x.partner, x.report, x.ms);
}
PROCTOR_MESSAGE(tm_rally, "test.timers.rally");

struct tm_ball {};
PROCTOR_MESSAGE(tm_ball, "test.timers.ball");

struct tm_quiet {
  std::int32_t ticks_sent;
};
PROCTOR_MESSAGE(tm_quiet, "test.timers.quiet");

// -- the actor ---------------------------------------------------------------------------------

namespace timers {

class ticker {
 public:
  explicit ticker(proctor::actor& self) : self_(self) {}

  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const tm_arm& a) {
              self_.delayed_send(a.to, std::chrono::milliseconds(a.ms), tm_tick{a.value});
              (void)self_.send(a.to, tm_tick{-1});
            },
            [this](const tm_start& s) {
              to_ = s.to;
              period_ = std::chrono::milliseconds(s.period_ms);
              timer_ = self_.run_every(period_, [this, limit = s.limit] {
                (void)self_.send(to_, tm_tick{sent_++});
                if (limit > 0 && sent_ == limit)
                  quiet_down();
              });
            },
            [this](const tm_stop&) {
              quiet_down();
              return sent_;
            },
            [this](const tm_rally& r) {
              self_.run_later(std::chrono::milliseconds(r.ms), [this, report = r.report] {
                rally_over_ = true;
                (void)self_.send(report, tm_tick{returned_});
              });
              (void)self_.send(r.partner, tm_ball{});
            },
            [this](const tm_ball&) {
              if (!rally_over_ && self_.send(self_.current_sender(), tm_ball{}))
                ++returned_;
            }};
  }

 private:
  void quiet_down() {
    self_.cancel_timer(timer_);
    self_.run_later(period_ * 10, [this] { (void)self_.send(to_, tm_quiet{sent_}); });
  }

  proctor::actor& self_;
  actor_ref to_;
  std::chrono::milliseconds period_{};
  proctor::detail::timer_id timer_ = 0;
  std::int32_t sent_ = 0;
  bool rally_over_ = false;
  std::int32_t returned_ = 0;
};

} // namespace timers

namespace {

/// utime + stime of `pid`, in clock ticks, from /proc/<pid>/stat.
std::optional<long> cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string skipped;
  for (int field = 3; field < 14; ++field) // fields 3..13
    fields >> skipped;
  long utime = 0, stime = 0;
  if (!(fields >> utime >> stime))
    return std::nullopt;
  return utime + stime;
}

/// Collects tm_ticks until tm_quiet: the tick numbers and the quiet note.
std::vector<std::int32_t> ticks_until_quiet(proctor::scoped_actor& self, tm_quiet& quiet) {
  std::vector<std::int32_t> ticks;
  bool done = false;
  while (!done)
    REQUIRE(self.receive(patience, [&](const tm_tick& t) { ticks.push_back(t.n); },
                         [&](const tm_quiet& q) {
                           quiet = q;
                           done = true;
                         }));
  return ticks;
}

} // namespace

TEST_CASE("an actor's delayed send arrives, after the messages it sent at once",
          "[actor][timers]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto t = proctor::spawn<timers::ticker>(on(m, "ticker"));
    REQUIRE(self.send(t, tm_arm{self.ref(), 100, 7}));
    std::vector<std::int32_t> got;
    for (int i = 0; i < 2; ++i)
      REQUIRE(self.receive(patience, [&](const tm_tick& tick) { got.push_back(tick.n); }));
    CHECK(got == std::vector<std::int32_t>{-1, 7});
    stop(self, t);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor's run_every fires again and again until cancel_timer stops it",
          "[actor][timers]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto t = proctor::spawn<timers::ticker>(on(proctor::start_method::fork, "ticker"));
    SECTION("cancelled by a handler") {
      REQUIRE(self.send(t, tm_start{self.ref(), 10, 0}));
      std::vector<std::int32_t> first;
      for (int i = 0; i < 5; ++i)
        REQUIRE(self.receive(patience, [&](const tm_tick& tick) { first.push_back(tick.n); }));
      CHECK(first == std::vector<std::int32_t>{0, 1, 2, 3, 4});
      auto sent = self.request<std::int32_t>(t, patience, tm_stop{});
      REQUIRE(sent);
      CHECK(*sent >= 5);
      tm_quiet quiet{};
      auto rest = ticks_until_quiet(self, quiet);
      CHECK(quiet.ticks_sent == *sent);
      CHECK(static_cast<std::int32_t>(first.size() + rest.size()) == *sent);
      for (std::size_t i = 0; i < rest.size(); ++i)
        CHECK(rest[i] == static_cast<std::int32_t>(first.size() + i));
    }
    SECTION("cancelled from its own callback") {
      REQUIRE(self.send(t, tm_start{self.ref(), 10, 6}));
      tm_quiet quiet{};
      auto ticks = ticks_until_quiet(self, quiet);
      CHECK(ticks == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5});
      CHECK(quiet.ticks_sent == 6);
    }
    // The actor still answers, and no tick came after its quiet note.
    CHECK(pid_of(self, t) != 0);
    CHECK_FALSE(self.receive(0s, [](const tm_tick&) {}));
    stop(self, t);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor kept busy one message at a time still fires its timers", "[actor][timers]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto a = proctor::spawn<timers::ticker>(on(proctor::start_method::fork, "rally-a"));
    auto b = proctor::spawn<timers::ticker>(on(proctor::start_method::fork, "rally-b"));
    // Two actors return a ball to each other as fast as they can: each finds the next ball
    // while it spins for it, one message per batch, so on a quiet machine neither waits long
    // enough to look at its timers on the way to sleep, and only the loop's own look between
    // batches fires a's timer, which ends the rally. (On a loaded one a spin that runs out
    // looks at them too.)
    REQUIRE(self.send(a, tm_rally{b, self.ref(), 50}));
    std::int32_t returned = 0;
    REQUIRE(self.receive(patience, [&](const tm_tick& tick) { returned = tick.n; }));
    CHECK(returned >= 10); // the rally went on until the timer fired
    stop(self, a);
    stop(self, b);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an idle actor uses no CPU", "[actor][timers]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto t = proctor::spawn<timers::ticker>(on(m, "idle"));
    SECTION("nothing to do") {}
    SECTION("a timer far in the future") {
      REQUIRE(self.send(t, tm_arm{self.ref(), 3'600'000, 1}));
      REQUIRE(self.receive(patience, [](const tm_tick&) {})); // the immediate one
    }
    SECTION("a periodic timer, cancelled") {
      REQUIRE(self.send(t, tm_start{self.ref(), 10, 3}));
      tm_quiet quiet{};
      (void)ticks_until_quiet(self, quiet);
    }
    auto pid = pid_of(self, t); // answered: the actor is past its start and back to waiting
    REQUIRE(pid > 0);
    auto before = cpu_ticks(pid);
    std::this_thread::sleep_for(1s);
    auto after = cpu_ticks(pid);
    REQUIRE(before);
    REQUIRE(after);
    INFO("CPU clock ticks used in 1 s idle: " << (*after - *before) << " (of "
                                              << ::sysconf(_SC_CLK_TCK) << " per second)");
    CHECK(*after - *before < 5);
    stop(self, t);
  }
  INFO("start method " << proctor::to_string(m));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("SIGTERM ends an actor that sleeps in its loop (a timer pending) with shutdown",
          "[actor][timers]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto t = proctor::spawn<timers::ticker>(on(m, "ticker"));
    // A tick an hour from now: the actor sleeps in its loop, not on its mailbox alone.
    REQUIRE(self.send(t, tm_arm{self.ref(), 3'600'000, 1}));
    REQUIRE(self.receive(patience, [](const tm_tick& tick) { CHECK(tick.n == -1); }));
    auto pid = pid_of(self, t);
    REQUIRE(pid > 0);
    auto mon = self.monitor(t);
    REQUIRE(::kill(pid, SIGTERM) == 0);
    auto down = wait_down(self, mon);
    REQUIRE(down);
    INFO("DOWN reason: " << to_string(down->reason));
    CHECK(down->reason.kind == proctor::exit_kind::shutdown);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
