#pragma once

// What the actor tests share: spawn options per start method, waiting for a DOWN, stopping an
// actor at the end of a test, and a request every test actor answers with its pid.

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include <proctor/proctor.hpp>

/// Every test actor answers this request with its pid (see pid_handler).
struct pid_query {};
PROCTOR_MESSAGE(pid_query, "test.actor.pid_query");

namespace proctor::test {

using namespace std::chrono_literals;

/// Generous upper bound for anything a test waits for: a loaded 2-core machine still passes.
inline constexpr std::chrono::seconds patience{30};

/// Spawn options for start method `m`.
inline spawn_options on(start_method m, std::string name = "test-actor") {
  spawn_options opts;
  opts.method = m;
  opts.name = std::move(name);
  return opts;
}

/// The handler of pid_query, for a behavior: `proctor::behavior{pid_handler(), ...}`.
inline auto pid_handler() {
  return [](const pid_query&) { return static_cast<std::int32_t>(::getpid()); };
}

/// The pid of a test actor (asked with pid_query), or 0 if it did not answer.
inline pid_t pid_of(scoped_actor& self, const actor_ref& ref) {
  auto pid = self.request<std::int32_t>(ref, patience, pid_query{});
  return pid ? static_cast<pid_t>(*pid) : 0;
}

/// Waits for the down_msg of monitor `id`.
/// @note DOWNs of other monitors that come first are dropped: use it while no other monitor of
/// interest is open (or collect DOWNs with receive() instead).
inline std::optional<down_msg> wait_down(scoped_actor& self, std::uint64_t id,
                                         std::chrono::steady_clock::duration timeout = patience) {
  auto until = std::chrono::steady_clock::now() + timeout;
  std::optional<down_msg> found;
  while (!found) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until)
      break;
    self.receive(until - now, [&](const down_msg& d) {
      if (d.monitor_id == id)
        found = d;
    });
  }
  return found;
}

/// Monitors `ref` and waits for its end: the reason, or nullopt if it did not end in time.
inline std::optional<exit_reason> wait_end(scoped_actor& self, const actor_ref& ref,
                                           std::chrono::steady_clock::duration timeout = patience) {
  auto down = wait_down(self, self.monitor(ref), timeout);
  return down ? std::optional<exit_reason>{down->reason} : std::nullopt;
}

/// Ends `ref` for good (an untrappable kill) and waits until it has: the clean-up of a test.
inline void stop(scoped_actor& self, const actor_ref& ref) {
  auto id = self.monitor(ref);
  self.send_exit(ref, exit_reason::kill());
  (void)wait_down(self, id);
}

/// Put it first in a test's scope: if a REQUIRE fails half-way (an exception leaves the scope),
/// it kills the children the test could not stop, so they do not spoil the next tests of the same
/// run. A test that runs to its end stops its actors itself: this does nothing then, and the
/// leftover check still sees anything the test forgot.
struct kill_children_on_failure {
  kill_children_on_failure() = default;
  kill_children_on_failure(const kill_children_on_failure&) = delete;
  kill_children_on_failure& operator=(const kill_children_on_failure&) = delete;
  ~kill_children_on_failure() {
    if (std::uncaught_exceptions() == 0)
      return;
    for (auto& child : active_children()) {
      child.kill();
      (void)child.join(patience);
    }
  }
};

/// No core file for an actor about to die of a signal on purpose.
inline void no_core_file() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

} // namespace proctor::test
