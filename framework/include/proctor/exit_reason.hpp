#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace proctor {

/// Why an actor ended (Erlang's exit reasons, plus what a process can die of).
enum class exit_kind : std::uint8_t {
  normal,          ///< Its behavior quit, or it was asked to with `normal`: does not propagate.
  shutdown,        ///< Asked to stop (SIGTERM, or an exit signal with reason shutdown).
  exception,       ///< An exception escaped a handler or init; detail holds what().
  exit_code,       ///< proctor::exit(n) inside the actor; code holds n.
  signal,          ///< Died of signal `code`.
  killed,          ///< An untrappable `kill` exit signal (SIGKILL) from another actor.
  unresponsive,    ///< Killed by a watchdog.
  mailbox_corrupt, ///< Its mailbox failed its checks.
  noproc,          ///< There was no such actor (monitor or link of an actor already gone).
  user,            ///< A reason of the program's own, in detail.
};

/// An exit reason: one small enum plus detail.
struct exit_reason {
  exit_kind kind = exit_kind::normal;
  std::int32_t code = 0;      ///< exit_code: n; signal: the signal number.
  bool core_dumped = false;   ///< signal: known only to the actor's parent; false otherwise.
  std::string detail{};       ///< exception: what(); user: the reason; else an explanation.

  [[nodiscard]] static exit_reason user(std::string why) {
    return {exit_kind::user, 0, false, std::move(why)};
  }
  /// An ordered stop (what SIGTERM means to an actor).
  [[nodiscard]] static exit_reason shutdown(std::string why = {}) {
    return {exit_kind::shutdown, 0, false, std::move(why)};
  }
  /// Erlang's `kill`: for send_exit(), ends the target even if it traps exits.
  [[nodiscard]] static exit_reason kill() { return {exit_kind::killed, 9, false, {}}; }
  /// True for normal: the one reason that does not take linked actors down.
  [[nodiscard]] bool is_normal() const noexcept { return kind == exit_kind::normal; }

  friend bool operator==(const exit_reason&, const exit_reason&) = default;
};

/// "normal", "exception: bad input", "signal 11 (SIGSEGV)", ...
[[nodiscard]] std::string to_string(const exit_reason& r);
[[nodiscard]] const char* to_string(exit_kind k) noexcept;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_reason& x) {
  return f(caf::meta::type_name("proctor::exit_reason"), x.kind, x.code, x.core_dumped, x.detail);
}

} // namespace proctor
