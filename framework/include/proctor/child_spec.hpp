#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/meta/type_name.hpp>

#include "proctor/detail/codec.hpp"
#include "proctor/entry.hpp"
#include "proctor/spawn.hpp"

namespace proctor {

/// OTP's restart values: when a child that ended is started again.
enum class restart_type : std::uint8_t {
  permanent, ///< Always.
  transient, ///< Only after an abnormal end (not normal, not shutdown).
  temporary, ///< Never; its spec is dropped when it ends.
};

/// OTP's child types.
enum class child_type : std::uint8_t { worker, supervisor };

/// OTP's shutdown values: how a child is stopped.
struct shutdown_spec {
  enum class kind : std::uint8_t {
    brutal_kill, ///< SIGKILL at once.
    timeout,     ///< SIGTERM, then SIGKILL after `time`.
    infinity,    ///< SIGTERM, and wait as long as it takes (for supervisors).
  };
  kind how = kind::timeout;
  std::chrono::milliseconds time{5000};

  [[nodiscard]] static shutdown_spec brutal_kill() { return {kind::brutal_kill, {}}; }
  [[nodiscard]] static shutdown_spec after(std::chrono::milliseconds t) { return {kind::timeout, t}; }
  [[nodiscard]] static shutdown_spec infinity() { return {kind::infinity, {}}; }
};

/// How to start a child: a registered actor and its encoded arguments (child<A>(args...)).
struct child_start {
  std::string key;   ///< The actor's entry point (registry key).
  std::string args;  ///< Its arguments, encoded.
  std::string actor; ///< For people: the actor's type or function.
};

/// Per-child resource limits (setrlimit in the child); 0: unlimited. A child that exceeds one
/// ends by the signal the kernel sends (SIGKILL/SIGSEGV for memory, SIGXCPU for CPU time, ...),
/// which shows up as its exit reason.
struct child_limits {
  std::uint64_t memory_bytes = 0;   ///< RLIMIT_AS
  std::uint64_t cpu_seconds = 0;    ///< RLIMIT_CPU
  std::uint64_t open_files = 0;     ///< RLIMIT_NOFILE
};

/// OTP's child specification, plus what a process-based tree can offer.
struct child_spec {
  std::string id;
  child_start start;
  restart_type restart = restart_type::permanent;
  shutdown_spec shutdown{};
  child_type type = child_type::worker;
  std::size_t mailbox_bytes = 256 * 1024;
  std::chrono::milliseconds start_timeout{10000};
  child_limits limits{};
  /// A child whose handler runs longer than this is killed and restarted (exit reason
  /// `unresponsive`); 0: no watchdog.
  std::chrono::milliseconds watchdog{0};
  /// Keep a warm standby: a second process of this child's, started and set up ahead of need,
  /// that waits for the running one to die. When it dies without a word (SIGKILL: the OOM killer,
  /// an operator, a `kill`) between two messages, and the supervisor would restart it at once
  /// (one_for_one or simple_one_for_one, no backoff, intensity not reached), the standby runs the
  /// actor's init on the same mailbox within microseconds, without waiting for the dead
  /// process's teardown; the supervisor counts and reports the restart as any other, and starts
  /// the next standby. Every other end is restarted as usual. Costs one idle process per child.
  bool standby = false;
};

namespace detail {

template <class... Ds>
child_start make_child_start(std::string key, std::string actor, const Ds&... args) {
  return {std::move(key), encode_tuple(std::tuple<const Ds&...>{args...}), std::move(actor)};
}

} // namespace detail

/// The start of a child that runs class actor A with `args` (as spawn<A>(args...)).
template <class A, class... Args>
  requires std::is_class_v<A>
[[nodiscard]] child_start child(Args&&... args) {
  constexpr auto main = &detail::class_actor_main<A, std::decay_t<Args>...>;
  return detail::make_child_start(entry_t<main>::key(), std::string{detail::entry_pretty_type<A>()},
                                  std::decay_t<Args>(std::forward<Args>(args))...);
}

/// The start of a child that runs function actor F with `args` (as spawn<F>(args...)).
template <auto F, class... Args>
[[nodiscard]] child_start child(Args&&... args) {
  constexpr auto main = detail::function_actor_params<decltype(F)>::template main<F>;
  return detail::make_child_start(entry_t<main>::key(), std::string{detail::entry_pretty_name<F>()},
                                  std::decay_t<Args>(std::forward<Args>(args))...);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_spec& x) {
  auto ms = static_cast<std::int64_t>(x.time.count());
  auto r = f(caf::meta::type_name("proctor::shutdown_spec"), x.how, ms);
  x.time = std::chrono::milliseconds{ms};
  return r;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_start& x) {
  return f(caf::meta::type_name("proctor::child_start"), x.key, x.args, x.actor);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_limits& x) {
  return f(caf::meta::type_name("proctor::child_limits"), x.memory_bytes, x.cpu_seconds, x.open_files);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  auto start_ms = static_cast<std::int64_t>(x.start_timeout.count());
  auto dog_ms = static_cast<std::int64_t>(x.watchdog.count());
  auto mailbox = static_cast<std::uint64_t>(x.mailbox_bytes);
  auto r = f(caf::meta::type_name("proctor::child_spec"), x.id, x.start, x.restart, x.shutdown,
             x.type, mailbox, start_ms, x.limits, dog_ms, x.standby);
  x.start_timeout = std::chrono::milliseconds{start_ms};
  x.watchdog = std::chrono::milliseconds{dog_ms};
  x.mailbox_bytes = static_cast<std::size_t>(mailbox);
  return r;
}

} // namespace proctor
