#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/descriptors.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_ref;
using proctor::down_msg;
using proctor::exit_kind;
using proctor::exit_msg;
using proctor::exit_reason;

// -- messages ----------------------------------------------------------------------------------

/// How a subject ends when told to die.
enum class ml_death : std::int32_t {
  quit_normal,
  exception,  ///< throws std::runtime_error(text)
  exit_code,  ///< proctor::exit(3)
  segv,       ///< raise(SIGSEGV)
  abort,      ///< std::abort()
  quit_user,  ///< quit(exit_reason::user(text))
};

/// A command for a subject, sent as a request (answered once done) except `die`, and except
/// `wait_for_exit`, which keeps the subject busy until the process with pid `arg` has ended.
struct ml_cmd {
  enum op_t : std::int32_t { link, unlink, monitor, trap, die, wait_for_exit } op;
  actor_ref target{};
  std::int32_t arg = 0;
  std::string text{};
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ml_cmd& x) {
  return f(caf::meta::type_name("ml_cmd"), x.op, x.target, x.arg, x.text);
}
PROCTOR_MESSAGE(ml_cmd, "test.monitor_link.cmd");

/// What a subject saw: a DOWN (is_exit false) or an EXIT, with how many ml_seq it had by then.
struct ml_seen {
  actor_ref by;
  std::uint8_t is_exit = 0;
  actor_ref source;
  exit_reason reason;
  std::uint64_t monitor_id = 0;
  std::int32_t seq_count = 0;
  std::uint8_t seq_in_order = 1;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ml_seen& x) {
  return f(caf::meta::type_name("ml_seen"), x.by, x.is_exit, x.source, x.reason, x.monitor_id,
           x.seq_count, x.seq_in_order);
}
PROCTOR_MESSAGE(ml_seen, "test.monitor_link.seen");

/// Numbered messages of a burst.
struct ml_seq {
  std::int32_t n;
};
PROCTOR_MESSAGE(ml_seq, "test.monitor_link.seq");

/// Tells a subject to send `count` ml_seq to `to`, then die as `how` says.
struct ml_burst {
  actor_ref to;
  std::int32_t count = 0;
  ml_death how = ml_death::quit_normal;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ml_burst& x) {
  return f(caf::meta::type_name("ml_burst"), x.to, x.count, x.how);
}
PROCTOR_MESSAGE(ml_burst, "test.monitor_link.burst");

/// A test's note to itself, behind everything queued before it.
struct ml_marker {};
PROCTOR_MESSAGE(ml_marker, "test.monitor_link.marker");

// -- the actor under test ----------------------------------------------------------------------

namespace monitor_link {

/// Ends the actor as `how` says: from inside a handler, by quitting (after the handler returns)
/// or at once (exception, proctor::exit, a signal).
void end(proctor::actor& self, ml_death how, const std::string& text) {
  switch (how) {
    case ml_death::quit_normal:
      self.quit();
      return;
    case ml_death::quit_user:
      self.quit(exit_reason::user(text));
      return;
    case ml_death::exception:
      throw std::runtime_error(text);
    case ml_death::exit_code:
      proctor::exit(3);
    case ml_death::segv:
      no_core_file();
      ::raise(SIGSEGV);
      break;
    case ml_death::abort:
      no_core_file();
      std::abort();
  }
  std::abort();
}

/// Links, monitors and traps on command, reports every DOWN and EXIT to `observer`, counts
/// ml_seq messages, and dies on command.
class subject {
 public:
  subject(proctor::actor& self, actor_ref observer) : self_(self), observer_(std::move(observer)) {}

  proctor::behavior make_behavior() {
    return {
      pid_handler(),
      [this](const ml_cmd& c) -> std::uint64_t {
        switch (c.op) {
          case ml_cmd::link:
            self_.link(c.target);
            return 0;
          case ml_cmd::unlink:
            self_.unlink(c.target);
            return 0;
          case ml_cmd::monitor:
            return self_.monitor(c.target);
          case ml_cmd::trap:
            self_.trap_exit(c.arg != 0);
            return 0;
          case ml_cmd::wait_for_exit: {
            int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(c.arg), 0));
            if (fd >= 0) {
              pollfd p{fd, POLLIN, 0};
              (void)::poll(&p, 1, static_cast<int>(patience.count() * 1000));
              ::close(fd);
            }
            return 0;
          }
          case ml_cmd::die:
            end(self_, static_cast<ml_death>(c.arg), c.text);
            return 0;
        }
        return 0;
      },
      [this](const down_msg& d) { report(false, d.source, d.reason, d.monitor_id); },
      [this](const exit_msg& e) { report(true, e.source, e.reason, 0); },
      [this](const ml_seq& s) {
        if (s.n != seq_count_)
          seq_in_order_ = false;
        ++seq_count_;
      },
      [this](const ml_burst& b) {
        for (std::int32_t i = 0; i < b.count; ++i)
          if (!self_.send(b.to, ml_seq{i}))
            throw std::runtime_error("burst send failed");
        end(self_, b.how, "burst done");
      },
    };
  }

 private:
  void report(bool is_exit, const actor_ref& source, const exit_reason& why, std::uint64_t id) {
    (void)self_.send(observer_,
                     ml_seen{self_.ref(), is_exit, source, why, id, seq_count_, seq_in_order_});
  }

  proctor::actor& self_;
  actor_ref observer_;
  std::int32_t seq_count_ = 0;
  bool seq_in_order_ = true;
};

} // namespace monitor_link

namespace {

using proctor::scoped_actor;

actor_ref spawn_subject(scoped_actor& self, proctor::start_method m, std::string name) {
  return proctor::spawn<monitor_link::subject>(on(m, std::move(name)), self.ref());
}

/// Runs a command on `subject` and waits until it is done; the monitor id for `monitor`.
std::uint64_t command(scoped_actor& self, const actor_ref& subject, ml_cmd::op_t op,
                      const actor_ref& target = {}, std::int32_t arg = 0) {
  auto r = self.request<std::uint64_t>(subject, patience, ml_cmd{op, target, arg, {}});
  INFO("command " << static_cast<int>(op) << ": " << (r ? "ok" : to_string(r.error())));
  REQUIRE(r);
  return *r;
}

void kill_it(scoped_actor& self, const actor_ref& target) {
  self.send_exit(target, exit_reason::kill());
}

void order_death(scoped_actor& self, const actor_ref& target, ml_death how, std::string text = {}) {
  auto code = static_cast<std::int32_t>(how);
  REQUIRE(self.send(target, ml_cmd{ml_cmd::die, {}, code, std::move(text)}));
}

/// The next ml_seen, waiting at most `patience`.
std::optional<ml_seen> next_seen(scoped_actor& self) {
  std::optional<ml_seen> seen;
  self.receive(patience, [&](const ml_seen& s) { seen = s; });
  return seen;
}

/// Collects the down_msgs queued before a marker this test sends itself now: what arrived
/// beyond those expected.
std::vector<down_msg> downs_before_marker(scoped_actor& self) {
  REQUIRE(self.send(self.ref(), ml_marker{}));
  std::vector<down_msg> extra;
  bool marker = false;
  while (!marker)
    REQUIRE(self.receive(patience, [&](const down_msg& d) { extra.push_back(d); },
                         [&](const ml_marker&) { marker = true; }));
  return extra;
}

} // namespace

// -- monitors ----------------------------------------------------------------------------------

TEST_CASE("each monitor call on an actor delivers exactly one DOWN", "[actor][monitor]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    SECTION("monitored by a scoped actor") {
      auto a = spawn_subject(self, m, "a");
      auto m1 = self.monitor(a);
      auto m2 = self.monitor(a);
      CHECK(m1 != m2);
      order_death(self, a, ml_death::exception, "boom");
      std::set<std::uint64_t> ids;
      for (int i = 0; i < 2; ++i)
        REQUIRE(self.receive(patience, [&](const down_msg& d) {
          ids.insert(d.monitor_id);
          CHECK(d.source == a);
          CHECK(d.reason.kind == exit_kind::exception);
          CHECK(d.reason.detail == "boom");
        }));
      CHECK(ids == std::set<std::uint64_t>{m1, m2});
      CHECK(downs_before_marker(self).empty());
    }
    SECTION("monitored by an actor") {
      auto watcher = spawn_subject(self, m, "watcher");
      auto a = spawn_subject(self, m, "a");
      auto m1 = command(self, watcher, ml_cmd::monitor, a);
      auto m2 = command(self, watcher, ml_cmd::monitor, a);
      CHECK(m1 != m2);
      kill_it(self, a);
      std::set<std::uint64_t> ids;
      for (int i = 0; i < 2; ++i) {
        auto seen = next_seen(self);
        REQUIRE(seen);
        CHECK_FALSE(seen->is_exit);
        CHECK(seen->source == a);
        CHECK(seen->reason.kind == exit_kind::killed);
        ids.insert(seen->monitor_id);
      }
      CHECK(ids == std::set<std::uint64_t>{m1, m2});
      // A third DOWN would have been queued with the first two, before this request.
      CHECK(pid_of(self, watcher) != 0);
      CHECK_FALSE(self.receive(0s, [](const ml_seen&) {}));
      stop(self, watcher);
    }
  }
  INFO("start method " << proctor::to_string(m));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a monitor of a scoped_actor fires once it goes out of scope, in its own process and "
          "in an actor's",
          "[actor][monitor]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto watcher = spawn_subject(self, m, "watcher");
    std::uint64_t by_actor = 0;
    std::uint64_t by_self = 0;
    actor_ref gone;
    {
      scoped_actor temporary;
      gone = temporary.ref();
      by_actor = command(self, watcher, ml_cmd::monitor, gone);
      by_self = self.monitor(gone);
    } // the host process lives on: only the scoped_actor ends
    auto seen = next_seen(self);
    REQUIRE(seen);
    CHECK_FALSE(seen->is_exit);
    CHECK(seen->source == gone);
    CHECK(seen->monitor_id == by_actor);
    CHECK(seen->reason.kind == exit_kind::normal);
    auto down = wait_down(self, by_self);
    REQUIRE(down);
    CHECK(down->source == gone);
    CHECK(down->reason.kind == exit_kind::normal);
    stop(self, watcher);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a demonitored actor's end delivers no DOWN for that monitor", "[actor][monitor]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    auto dropped = self.monitor(a);
    self.demonitor(dropped);
    auto kept = self.monitor(a);
    order_death(self, a, ml_death::exception, "boom");
    std::vector<std::uint64_t> ids;
    while (ids.empty() || ids.back() != kept)
      REQUIRE(self.receive(patience, [&](const down_msg& d) { ids.push_back(d.monitor_id); }));
    for (const auto& d : downs_before_marker(self))
      ids.push_back(d.monitor_id);
    CHECK(ids == std::vector<std::uint64_t>{kept});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a monitor of an actor that has already ended delivers an immediate DOWN with noproc",
          "[actor][monitor]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    SECTION("it quit") {
      auto a = spawn_subject(self, proctor::start_method::fork, "a");
      // Monitored before it is told to quit: a monitor set after its end would see noproc.
      auto before = self.monitor(a);
      order_death(self, a, ml_death::quit_normal);
      auto first = wait_down(self, before);
      REQUIRE(first);
      CHECK(first->reason.kind == exit_kind::normal);

      auto late = self.monitor(a);
      auto down = wait_down(self, late);
      REQUIRE(down);
      CHECK(down->reason.kind == exit_kind::noproc);
      CHECK(down->source == a);
    }
    SECTION("it was killed") {
      auto a = spawn_subject(self, proctor::start_method::fork, "a");
      stop(self, a);
      auto late = self.monitor(a);
      auto down = wait_down(self, late);
      REQUIRE(down);
      CHECK(down->reason.kind == exit_kind::noproc);
      CHECK(down->source == a);
    }
    SECTION("seen from an actor") {
      auto watcher = spawn_subject(self, proctor::start_method::fork, "watcher");
      auto a = spawn_subject(self, proctor::start_method::fork, "a");
      order_death(self, a, ml_death::exception, "gone");
      REQUIRE(wait_end(self, a));
      auto id = command(self, watcher, ml_cmd::monitor, a);
      auto seen = next_seen(self);
      REQUIRE(seen);
      CHECK(seen->monitor_id == id);
      CHECK(seen->source == a);
      CHECK(seen->reason.kind == exit_kind::noproc);
      stop(self, watcher);
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("every message an actor sent before it died arrives before its DOWN",
          "[actor][monitor]") {
  auto m = GENERATE(from_range(all_methods));
  auto how = GENERATE(ml_death::quit_normal, ml_death::exception, ml_death::segv,
                      ml_death::exit_code);
  INFO("start method " << proctor::to_string(m) << ", death " << static_cast<int>(how));
  constexpr std::int32_t n = 2000;
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    SECTION("received by a scoped actor") {
      auto a = spawn_subject(self, m, "burster");
      auto mon = self.monitor(a);
      REQUIRE(self.send(a, ml_burst{self.ref(), n, how}));
      std::int32_t count = 0;
      bool in_order = true;
      std::optional<down_msg> down;
      while (!down)
        REQUIRE(self.receive(patience,
                             [&](const ml_seq& s) {
                               in_order = in_order && s.n == count;
                               ++count;
                             },
                             [&](const down_msg& d) { down = d; }));
      CHECK(down->monitor_id == mon);
      CHECK(count == n);
      CHECK(in_order);
    }
    SECTION("received by an actor") {
      auto receiver = spawn_subject(self, m, "receiver");
      auto a = spawn_subject(self, m, "burster");
      command(self, receiver, ml_cmd::monitor, a);
      REQUIRE(self.send(a, ml_burst{receiver, n, how}));
      auto seen = next_seen(self);
      REQUIRE(seen);
      CHECK(seen->source == a);
      CHECK(seen->seq_count == n);
      CHECK(seen->seq_in_order);
      stop(self, receiver);
    }
  }
  INFO("start method " << proctor::to_string(m) << ", death " << static_cast<int>(how));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a DOWN carries the reason the actor ended with", "[actor][monitor]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, m, "mortal");
    auto mon = self.monitor(a);
    exit_reason expected;
    SECTION("normal: quit()") {
      order_death(self, a, ml_death::quit_normal);
      expected = {exit_kind::normal, 0, false, {}};
    }
    SECTION("exception: what()") {
      order_death(self, a, ml_death::exception, "disk on fire");
      expected = {exit_kind::exception, 0, false, "disk on fire"};
    }
    SECTION("exit code: proctor::exit(3) in a handler") {
      order_death(self, a, ml_death::exit_code);
      expected = {exit_kind::exit_code, 3, false, {}};
    }
    SECTION("signal: SIGSEGV") {
      order_death(self, a, ml_death::segv);
      expected = {exit_kind::signal, SIGSEGV, false, {}};
    }
    SECTION("signal: abort()") {
      order_death(self, a, ml_death::abort);
      expected = {exit_kind::signal, SIGABRT, false, {}};
    }
    SECTION("user: quit(exit_reason::user(...))") {
      order_death(self, a, ml_death::quit_user, "tired");
      expected = exit_reason::user("tired");
    }
    SECTION("killed: an exit signal kill") {
      kill_it(self, a);
      expected = {exit_kind::killed, 0, false, {}};
    }
    SECTION("shutdown: SIGTERM to the actor's pid") {
      auto pid = pid_of(self, a);
      REQUIRE(pid > 0);
      REQUIRE(::kill(pid, SIGTERM) == 0);
      expected = {exit_kind::shutdown, 0, false, {}};
    }
    SECTION("shutdown: an exit signal shutdown to an actor that does not trap exits") {
      self.send_exit(a, exit_reason::shutdown());
      expected = {exit_kind::shutdown, 0, false, {}};
    }
    auto down = wait_down(self, mon);
    REQUIRE(down);
    INFO("DOWN reason: " << to_string(down->reason));
    CHECK(down->source == a);
    CHECK(down->reason.kind == expected.kind);
    if (expected.kind == exit_kind::exit_code || expected.kind == exit_kind::signal)
      CHECK(down->reason.code == expected.code);
    if (!expected.detail.empty())
      CHECK(down->reason.detail == expected.detail);
  }
  INFO("start method " << proctor::to_string(m));
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- links -------------------------------------------------------------------------------------

TEST_CASE("an abnormal exit takes a linked actor down with the same reason in either direction",
          "[actor][link]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, m, "a");
    auto b = spawn_subject(self, m, "b");
    command(self, a, ml_cmd::link, b);
    // b has taken the link once it answers (FIFO: a put it into b's mailbox before it answered).
    // (A link that b takes only after a's end: see the test after this one.)
    REQUIRE(pid_of(self, b) != 0);
    auto mon_a = self.monitor(a);
    auto mon_b = self.monitor(b);
    actor_ref first;
    SECTION("the actor that linked ends") { first = a; }
    SECTION("the actor it linked to ends") { first = b; }
    order_death(self, first, ml_death::exception, "boom");
    std::map<std::uint64_t, down_msg> downs; // by monitor id, in whatever order they come
    while (downs.size() < 2)
      REQUIRE(self.receive(patience, [&](const down_msg& d) { downs.emplace(d.monitor_id, d); }));
    REQUIRE(downs.contains(mon_a));
    REQUIRE(downs.contains(mon_b));
    for (const auto& [id, d] : downs) {
      INFO("start method " << proctor::to_string(m) << ", " << (first == a ? "a" : "b")
                           << " ended first; " << (id == mon_a ? "a" : "b") << ": "
                           << to_string(d.reason));
      CHECK(d.reason.kind == exit_kind::exception);
      CHECK(d.reason.detail == "boom");
    }
  }
  INFO("start method " << proctor::to_string(m));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor that links and then dies before the other took the link passes on its own "
          "exit reason",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    auto b = spawn_subject(self, proctor::start_method::fork, "b");
    auto a_pid = pid_of(self, a);
    REQUIRE(a_pid > 0);
    // b is busy until a's process has ended: a's link reaches b only after a's end.
    REQUIRE(self.send(b, ml_cmd{ml_cmd::wait_for_exit, {}, a_pid, {}}));
    command(self, a, ml_cmd::link, b);
    auto mon_a = self.monitor(a);
    auto mon_b = self.monitor(b);
    order_death(self, a, ml_death::exception, "boom");
    std::map<std::uint64_t, down_msg> downs;
    while (downs.size() < 2)
      REQUIRE(self.receive(patience, [&](const down_msg& d) { downs.emplace(d.monitor_id, d); }));
    INFO("a: " << to_string(downs[mon_a].reason) << "; b: " << to_string(downs[mon_b].reason));
    CHECK(downs[mon_a].reason.kind == exit_kind::exception);
    // Erlang: the link was made while a lived, so b gets a's exit signal with a's reason.
    CHECK(downs[mon_b].reason.kind == exit_kind::exception);
    CHECK(downs[mon_b].reason.detail == "boom");
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a normal exit does not take a linked actor down", "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    auto b = spawn_subject(self, proctor::start_method::fork, "b");
    command(self, a, ml_cmd::link, b);
    command(self, a, ml_cmd::monitor, b); // a's DOWN report comes just before the exit signal
    order_death(self, b, ml_death::quit_normal);
    auto seen = next_seen(self);
    REQUIRE(seen);
    CHECK(seen->reason.kind == exit_kind::normal);
    // The exit signal (normal) was queued with the DOWN: handled before this request.
    CHECK(pid_of(self, a) != 0);
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor that traps exits gets an exit_msg instead of ending", "[actor][link]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, m, "a");
    auto b = spawn_subject(self, m, "b");
    command(self, a, ml_cmd::trap, {}, 1);
    command(self, a, ml_cmd::link, b);
    order_death(self, b, ml_death::exception, "boom");
    auto seen = next_seen(self);
    REQUIRE(seen);
    CHECK(seen->is_exit);
    CHECK(seen->source == b);
    CHECK(seen->reason.kind == exit_kind::exception);
    CHECK(seen->reason.detail == "boom");

    // An exit signal sent to it directly becomes a message too.
    self.send_exit(a, exit_reason::shutdown("go away"));
    seen = next_seen(self);
    REQUIRE(seen);
    CHECK(seen->is_exit);
    CHECK(seen->source == self.ref());
    CHECK(seen->reason.kind == exit_kind::shutdown);
    CHECK(seen->reason.detail == "go away");
    CHECK(pid_of(self, a) != 0);
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an exit signal normal is ignored by an actor that does not trap exits",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    self.send_exit(a, {exit_kind::normal, 0, false, {}});
    CHECK(pid_of(self, a) != 0); // FIFO: the signal was handled before this request
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor that traps exits still ends, with killed, on an exit signal kill",
          "[actor][link]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, m, "a");
    command(self, a, ml_cmd::trap, {}, 1);
    auto mon = self.monitor(a);
    kill_it(self, a);
    auto down = wait_down(self, mon);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::killed);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor linked to a killed actor ends with reason killed, or gets it as exit_msg "
          "if it traps exits",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    auto trapper = spawn_subject(self, proctor::start_method::fork, "trapper");
    auto b = spawn_subject(self, proctor::start_method::fork, "b");
    command(self, a, ml_cmd::link, b);
    command(self, trapper, ml_cmd::trap, {}, 1);
    command(self, trapper, ml_cmd::link, b);
    auto mon_a = self.monitor(a);
    kill_it(self, b);
    auto down = wait_down(self, mon_a);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::killed);
    auto seen = next_seen(self);
    REQUIRE(seen);
    CHECK(seen->is_exit);
    CHECK(seen->source == b);
    CHECK(seen->reason.kind == exit_kind::killed);
    CHECK(pid_of(self, trapper) != 0);
    stop(self, trapper);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a link to an actor that has already ended delivers an exit signal noproc",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto dead = spawn_subject(self, proctor::start_method::fork, "dead");
    order_death(self, dead, ml_death::quit_normal);
    REQUIRE(wait_end(self, dead));
    SECTION("trapped: an exit_msg with noproc") {
      auto a = spawn_subject(self, proctor::start_method::fork, "a");
      command(self, a, ml_cmd::trap, {}, 1);
      command(self, a, ml_cmd::link, dead);
      auto seen = next_seen(self);
      REQUIRE(seen);
      CHECK(seen->is_exit);
      CHECK(seen->source == dead);
      CHECK(seen->reason.kind == exit_kind::noproc);
      CHECK(pid_of(self, a) != 0);
      stop(self, a);
    }
    SECTION("not trapped: the linking actor ends with noproc, as in Erlang") {
      auto a = spawn_subject(self, proctor::start_method::fork, "a");
      auto mon = self.monitor(a);
      REQUIRE(self.send(a, ml_cmd{ml_cmd::link, dead, 0, {}}));
      auto down = wait_down(self, mon);
      REQUIRE(down);
      CHECK(down->reason.kind == exit_kind::noproc);
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("unlink stops the propagation of exits between two actors in both directions",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    auto b = spawn_subject(self, proctor::start_method::fork, "b");
    command(self, a, ml_cmd::link, b);
    command(self, a, ml_cmd::unlink, b);
    actor_ref dying, surviving;
    SECTION("the linked actor ends") {
      dying = b;
      surviving = a;
    }
    SECTION("the actor that unlinked ends") {
      // b took the link and the unlink in that order (FIFO from a) before this monitor answers.
      dying = a;
      surviving = b;
    }
    command(self, surviving, ml_cmd::monitor, dying);
    order_death(self, dying, ml_death::exception, "boom");
    auto seen = next_seen(self);
    REQUIRE(seen);
    CHECK_FALSE(seen->is_exit);
    CHECK(seen->reason.kind == exit_kind::exception);
    CHECK(pid_of(self, surviving) != 0);
    stop(self, surviving);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a scoped actor linked to an actor gets the actor's abnormal end as exit_msg",
          "[actor][link]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    self.link(a);
    order_death(self, a, ml_death::exception, "boom");
    std::optional<exit_msg> got;
    REQUIRE(self.receive(patience, [&](const exit_msg& e) { got = e; }));
    CHECK(got->source == a);
    CHECK(got->reason.kind == exit_kind::exception);
    CHECK(got->reason.detail == "boom");
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a process out of file descriptors is told so, and never told that a live actor it "
          "cannot map is gone",
          "[actor][monitor][hostile]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    scoped_actor self;
    auto a = spawn_subject(self, proctor::start_method::fork, "a");
    // A forked child maps again what it uses: its first send to `a` needs a descriptor.
    proctor::queue<std::string> out;
    auto child = proctor::get_context(proctor::start_method::fork).make_process([a, out]() mutable {
      scoped_actor me;
      descriptor_limit none_spare;

      auto sent = me.send(a, ml_marker{});
      (void)out.put(sent ? std::string{"sent"} : std::string{to_string(sent.error().code)});
      try {
        (void)me.monitor(a);
        (void)out.put("monitored");
      } catch (const std::runtime_error& e) {
        (void)out.put(std::string{"monitor refused: "} + e.what());
      }
      (void)out.put(to_string(a));

      none_spare.restore();
      sent = me.send(a, ml_marker{});
      (void)out.put(sent ? std::string{"sent"} : std::string{to_string(sent.error().code)});
      auto down_seen = me.receive(100ms, [](const down_msg&) {});
      (void)out.put(down_seen ? "a DOWN" : "no DOWN");
    });
    child.start();
    auto next = [&out] {
      auto line = out.get(patience);
      return line ? *line : std::string{"nothing"};
    };
    CHECK(next() == "no resources");
    CHECK_THAT(next(), Catch::StartsWith("monitor refused: ") && Catch::Contains("Too many open files"));
    CHECK_THAT(next(), Catch::Contains("unreachable from here"));
    CHECK(next() == "sent");
    CHECK(next() == "no DOWN");
    REQUIRE(child.join(patience));
    CHECK(child.exitcode() == 0);
    CHECK(pid_of(self, a) != 0); // alive all along
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
