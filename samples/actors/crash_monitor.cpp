// Actors: every way an actor can end, seen through monitors and links.
//
// Lesson: because each actor is a process, nothing an actor does can take main() down — not an
// exception, not exit(3), not a segfault. What main sees instead is a DOWN message (down_msg),
// one per monitor() call, carrying the exit reason:
//
//     quitter  calls self.quit()                      -> normal
//     thrower  throws std::runtime_error("bad input") -> exception: bad input
//     exiter   calls proctor::exit(3)                 -> exit code 3
//     crasher  raise(SIGSEGV)                         -> signal 11 (SIGSEGV)
//     sleeper  is sent the exit signal `kill`         -> killed
//
// A link ties two actors' fates together (Erlang's link/1): when one ends with any reason but
// normal, the other ends too, with the same reason. An actor that traps exits is not taken down:
// it receives the news as an exit_msg, and carries on — what a supervisor does.
//
// Expected output (pids and ids differ):
//     1. Monitors: main watches five actors end five different ways.
//     quitter (pid 101): calling self.quit()
//       DOWN from <actor quitter#1c0ffee0 pid 101>: normal
//     thrower (pid 102): throwing std::runtime_error("bad input")
//       DOWN from <actor thrower#...>: exception: bad input
//     exiter (pid 103): calling proctor::exit(3)
//       DOWN from <actor exiter#...>: exit code 3
//     crasher (pid 104): raise(SIGSEGV)
//       DOWN from <actor crasher#...>: signal 11 (SIGSEGV)
//     main: sending sleeper the exit signal kill
//       DOWN from <actor sleeper#...>: killed: killed by an exit signal `kill`
//
//     2. A link: buddy is linked to doomed; when doomed throws, buddy goes down too.
//     doomed (pid 106): throwing std::runtime_error("bad input")
//       DOWN from <actor doomed#...>: exception: bad input
//       DOWN from <actor buddy#...>: exception: bad input
//
//     3. Trapping exits: trapper is linked to fragile, but traps exits.
//     fragile (pid 108): raise(SIGSEGV)
//       DOWN from <actor fragile#...>: signal 11 (SIGSEGV)
//       trapper got an exit_msg from <actor fragile#...>: signal 11 (SIGSEGV), and lives on
//     trapper (pid 107): calling self.quit()
//       DOWN from <actor trapper#...>: normal
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

/// How a victim ends when told to.
enum class fate : std::int32_t { quit, throw_exception, exit_3, segfault, wait_to_be_killed };

struct end_now {}; ///< main -> an actor: meet your fate.

/// trapper -> main: the exit_msg it trapped.
struct exit_noticed {
  proctor::actor_ref source;
  proctor::exit_reason reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_noticed& x) {
  return f(caf::meta::type_name("exit_noticed"), x.source, x.reason);
}

} // namespace

PROCTOR_MESSAGE(end_now, "samples.crash_monitor.end_now");
PROCTOR_MESSAGE(exit_noticed, "samples.crash_monitor.exit_noticed");

namespace {

/// "thrower (pid 102): " — the actor's own name and pid.
std::string who(proctor::actor& self) {
  return self.ref().name() + " (pid " + std::to_string(proctor::current_process().pid) + "): ";
}

/// An actor that ends the way `how` says when it receives end_now.
class victim {
 public:
  victim(proctor::actor& self, fate how) : self_(self), how_(how) {}

  proctor::behavior make_behavior() {
    return {[this](end_now) { meet_fate(); }};
  }

 private:
  void meet_fate() {
    switch (how_) {
      case fate::quit:
        std::cout << who(self_) << "calling self.quit()" << std::endl;
        self_.quit();
        return;
      case fate::throw_exception:
        std::cout << who(self_) << "throwing std::runtime_error(\"bad input\")" << std::endl;
        throw std::runtime_error("bad input"); // escapes the handler: the actor's exit reason
      case fate::exit_3:
        std::cout << who(self_) << "calling proctor::exit(3)" << std::endl;
        proctor::exit(3);
      case fate::segfault: {
        std::cout << who(self_) << "raise(SIGSEGV)" << std::endl;
        rlimit no_core{0, 0}; // a demonstration: leave no core file behind
        ::setrlimit(RLIMIT_CORE, &no_core);
        std::raise(SIGSEGV);
        return;
      }
      case fate::wait_to_be_killed:
        return; // ignores it: only main's `kill` ends this one
    }
  }

  proctor::actor& self_;
  fate how_;
};

/// An actor linked to `partner` from its start. If `trap`, it traps exits: the partner's end
/// arrives as an exit_msg, which it passes on to `report_to`, and it lives on.
class linked_partner {
 public:
  linked_partner(proctor::actor& self, proctor::actor_ref partner, bool trap,
                 proctor::actor_ref report_to)
    : self_(self), partner_(std::move(partner)), trap_(trap), report_to_(std::move(report_to)) {}

  void init() {
    self_.trap_exit(trap_);
    self_.link(partner_);
  }

  proctor::behavior make_behavior() {
    return {
      [this](const proctor::exit_msg& exit) {
        (void)self_.send(report_to_, exit_noticed{exit.source, exit.reason});
      },
      [this](end_now) {
        std::cout << who(self_) << "calling self.quit()" << std::endl;
        self_.quit();
      },
    };
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref partner_;
  bool trap_;
  proctor::actor_ref report_to_;
};

proctor::spawn_options named(const char* name) { return {.name = name}; }

/// Exit reasons by actor.
using reason_map = std::map<proctor::actor_ref, proctor::exit_reason>;

/// Waits for the DOWN messages of `refs` (any order), prints them in the order of `refs`, and
/// returns their reasons; empty if they did not all come within 5 s.
reason_map await_downs(proctor::scoped_actor& self,
                       std::initializer_list<proctor::actor_ref> refs) {
  reason_map reasons;
  while (reasons.size() < refs.size())
    if (!self.receive(std::chrono::seconds{5},
                      [&](const proctor::down_msg& down) { reasons[down.source] = down.reason; }))
      return {};
  for (const auto& ref : refs)
    std::cout << "  DOWN from " << ref << ": " << to_string(reasons[ref]) << std::endl;
  return reasons;
}

/// Part 1: one actor per fate, each monitored; true if each reason is the expected one.
bool five_endings(proctor::scoped_actor& self) {
  std::cout << "1. Monitors: main watches five actors end five different ways." << std::endl;
  struct ending {
    const char* name;
    fate how;
    proctor::exit_kind expected;
  };
  const ending endings[] = {
    {"quitter", fate::quit, proctor::exit_kind::normal},
    {"thrower", fate::throw_exception, proctor::exit_kind::exception},
    {"exiter", fate::exit_3, proctor::exit_kind::exit_code},
    {"crasher", fate::segfault, proctor::exit_kind::signal},
    {"sleeper", fate::wait_to_be_killed, proctor::exit_kind::killed},
  };
  bool as_expected = true;
  for (const auto& e : endings) {
    auto ref = proctor::spawn<victim>(named(e.name), e.how);
    self.monitor(ref); // one DOWN message when it ends, whatever the way
    if (e.how == fate::wait_to_be_killed) {
      std::cout << "main: sending " << e.name << " the exit signal kill" << std::endl;
      self.send_exit(ref, {.kind = proctor::exit_kind::killed, .detail = {}}); // untrappable
    } else {
      (void)self.send(ref, end_now{});
    }
    auto reasons = await_downs(self, {ref});
    as_expected &= !reasons.empty() && reasons[ref].kind == e.expected;
  }
  return as_expected;
}

/// Part 2: a linked pair; one's crash takes the other down with the same reason.
bool linked_pair(proctor::scoped_actor& self) {
  std::cout << "\n2. A link: buddy is linked to doomed; when doomed throws, buddy goes down too."
            << std::endl;
  auto doomed = proctor::spawn<victim>(named("doomed"), fate::throw_exception);
  auto buddy = proctor::spawn<linked_partner>(named("buddy"), doomed, false, self.ref());
  self.monitor(doomed);
  self.monitor(buddy);
  (void)self.send(doomed, end_now{});
  auto reasons = await_downs(self, {doomed, buddy});
  return !reasons.empty() && reasons[doomed].kind == proctor::exit_kind::exception
         && reasons[buddy] == reasons[doomed];
}

/// Part 3: an actor that traps exits receives its partner's end as a message, and lives on.
bool trapping_exits(proctor::scoped_actor& self) {
  std::cout << "\n3. Trapping exits: trapper is linked to fragile, but traps exits." << std::endl;
  auto fragile = proctor::spawn<victim>(named("fragile"), fate::segfault);
  auto trapper = proctor::spawn<linked_partner>(named("trapper"), fragile, true, self.ref());
  self.monitor(fragile);
  self.monitor(trapper);
  (void)self.send(fragile, end_now{});
  auto reasons = await_downs(self, {fragile});
  std::optional<exit_noticed> noticed;
  self.receive(std::chrono::seconds{5}, [&](const exit_noticed& n) { noticed = n; });
  if (!noticed)
    return false;
  std::cout << "  trapper got an exit_msg from " << noticed->source << ": "
            << to_string(noticed->reason) << ", and lives on" << std::endl;
  (void)self.send(trapper, end_now{});
  auto trapper_reason = await_downs(self, {trapper});
  return !reasons.empty() && noticed->reason == reasons[fragile] && !trapper_reason.empty()
         && trapper_reason[trapper].is_normal();
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "monitors and links: how main sees actors end");
  proctor::scoped_actor self{"main"};
  bool as_expected = five_endings(self);
  as_expected &= linked_pair(self);
  as_expected &= trapping_exits(self);
  if (!as_expected)
    std::cerr << "crash_monitor: an exit reason was not the one expected\n";
  return as_expected ? 0 : 1;
}
