#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/child_spec.hpp"
#include "proctor/detail/item_codec.hpp"
#include "proctor/expected.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/message.hpp"
#include "proctor/spawn.hpp"

namespace proctor {

/// OTP's restart strategies.
enum class strategy : std::uint8_t {
  one_for_one,        ///< Restart the child that ended.
  one_for_all,        ///< Stop all others (in reverse order), restart all (in order).
  rest_for_one,       ///< Stop the ones started after it, restart it and them.
  simple_one_for_one, ///< One spec, many dynamic children of it (start_child adds one).
};

/// OTP's supervisor flags, with OTP's defaults, and proctor's restart backoff.
struct supervisor_flags {
  strategy how = strategy::one_for_one;
  std::uint32_t intensity = 1;          ///< More restarts than this within `period`...
  std::chrono::milliseconds period{5000}; ///< ...stop every child and the supervisor.
  /// Delay before the n-th restart of a child in a row: backoff_initial * 2^(n-1), at most
  /// backoff_max, with up to 25% random jitter; 0 (OTP's behaviour): restart at once. A child
  /// that has run for `stable_after` starts the series again.
  std::chrono::milliseconds backoff_initial{0};
  std::chrono::milliseconds backoff_max{1000};
  std::chrono::milliseconds stable_after{5000};
  /// A message on which a child has crashed this many times is moved to the dead letters
  /// instead of being handed to the next incarnation (0: never).
  std::uint32_t max_crashes_per_message = 3;
  /// The most dead letters the supervisor keeps: past it, the oldest one is forgotten (with a
  /// line on stderr naming it), so that a message crashing its child for weeks does not grow
  /// the supervisor without bound, nor its dead_letters() reply. 0 counts as 1.
  std::uint32_t dead_letters_kept = 1'000;
  /// Print each crash report on stderr (one line), as OTP's logger does. Subscribers and
  /// crash_reports() get them either way.
  bool log_crash_reports = true;
};

/// A supervisor: flags and its children, started in order.
struct supervisor_spec {
  supervisor_flags flags;
  std::vector<child_spec> children;
};

/// One crash (or other end) of a child, as the supervisor reports it.
struct crash_report {
  std::string supervisor;     ///< Its name.
  std::string child_id;
  std::int32_t pid = 0;
  exit_reason reason;         ///< exit code or signal (with the core-dump flag), exception, ...
  std::string in_flight;      ///< The type of the message being handled, or empty.
  std::vector<std::string> stderr_tail; ///< The last lines the child wrote to stderr.
  std::uint32_t restarts = 0; ///< Restarts of this child so far.
  std::string action;         ///< "restart", "restart in 40 ms", "dead-letter and restart",
                              ///< "no restart", "shutdown: intensity reached".
};

/// "crash: child=worker-2 pid=123 reason=signal 11 (SIGSEGV), core dumped in_flight=job
///  restarts=3 action=restart stderr=[...]" — one line.
[[nodiscard]] std::string to_string(const crash_report& r);

/// The largest dead-lettered message a supervisor keeps, and the most it keeps of all of them.
inline constexpr std::size_t dead_letter_payload_max = 64 * 1024;
inline constexpr std::size_t dead_letter_payload_budget = 256 * 1024;

/// A message the supervisor took out of a child's mailbox after it crashed on it too often.
struct dead_letter {
  std::string child_id;
  std::string type;            ///< Its registered message type.
  std::string sender;          ///< to_string of its sender.
  std::uint32_t crashes = 0;
  std::uint64_t type_id = 0;   ///< Its wire id.
  /// The message itself, as it was sent; empty if it was larger than dead_letter_payload_max or
  /// the supervisor already held dead_letter_payload_budget bytes of dead letters (the list must
  /// fit one reply, and the supervisor's memory).
  std::string payload;
  std::uint32_t payload_size = 0; ///< The message's size: payload.size() if it was kept.

  /// The message, if it is a T and was kept: to look at it, or to send it again once the cause
  /// is fixed. nullopt for another type, a message not kept, or bytes that do not decode as a T.
  template <class T>
  [[nodiscard]] std::optional<T> message() const {
    static_assert(assert_message<T>());
    if (type_id != message_traits<T>::id || payload.size() != payload_size)
      return std::nullopt;
    T out = detail::blank_value<T>();
    try {
      detail::decode_item(reinterpret_cast<const std::byte*>(payload.data()), payload.size(), out);
    } catch (...) {
      return std::nullopt;
    }
    return out;
  }
};

/// What which_children() says about one child (OTP: {Id, Child, Type, Modules}).
struct child_info {
  std::string id;
  actor_ref ref;               ///< Stable across restarts: the child's mailbox.
  std::int32_t pid = 0;        ///< 0 while not running.
  child_type type = child_type::worker;
  bool running = false;
  std::uint32_t restarts = 0;
  std::int32_t standby_pid = 0; ///< Its warm standby (child_spec::standby), waiting; 0: none.
};

/// count_children(): OTP's specs, active, supervisors, workers.
struct child_counts {
  std::uint32_t specs = 0;
  std::uint32_t active = 0;
  std::uint32_t supervisors = 0;
  std::uint32_t workers = 0;
};

/// Starts a supervisor process with `spec` (its children start in order, each after the one
/// before reported ready) and returns its ref once every child has started. Throws spawn_error if
/// a child does not start (the supervisor then stops the ones it had started).
actor_ref start_supervisor(const supervisor_spec& spec, spawn_options opts = {});

/// The start of a nested supervisor, for a parent supervisor's children. `name` describes it in
/// listings (child_start::actor); the child's id names the process.
[[nodiscard]] child_start supervisor_child(const supervisor_spec& spec, std::string name = {});

// -- the supervisor API: each call is a request to the supervisor process (OTP's supervisor
//    module); the default timeout is generous because starts and stops wait for children. ----

using sup_timeout = std::chrono::milliseconds;
inline constexpr sup_timeout default_sup_timeout{30000};

/// Starts a new child (for simple_one_for_one: `spec.start.args` are appended to the template's
/// arguments; id is generated). Errors: handler_error "already_present", spawn_failed.
expected<actor_ref, actor_error> start_child(const actor_ref& sup, const child_spec& spec,
                                             sup_timeout timeout = default_sup_timeout);
/// Stops a child; its spec stays (OTP). Errors: handler_error "not_found".
expected<void, actor_error> terminate_child(const actor_ref& sup, const std::string& id,
                                            sup_timeout timeout = default_sup_timeout);
/// Starts a stopped child again. Errors: "not_found", "running".
expected<actor_ref, actor_error> restart_child(const actor_ref& sup, const std::string& id,
                                               sup_timeout timeout = default_sup_timeout);
/// Removes a stopped child's spec. Errors: "not_found", "running".
expected<void, actor_error> delete_child(const actor_ref& sup, const std::string& id,
                                         sup_timeout timeout = default_sup_timeout);
expected<std::vector<child_info>, actor_error> which_children(
  const actor_ref& sup, sup_timeout timeout = default_sup_timeout);
expected<child_counts, actor_error> count_children(const actor_ref& sup,
                                                   sup_timeout timeout = default_sup_timeout);
/// The last 1,000 crash reports, oldest first; and the messages moved to the dead letters (the
/// last supervisor_flags::dead_letters_kept of them), oldest first.
expected<std::vector<crash_report>, actor_error> crash_reports(
  const actor_ref& sup, sup_timeout timeout = default_sup_timeout);
expected<std::vector<dead_letter>, actor_error> dead_letters(
  const actor_ref& sup, sup_timeout timeout = default_sup_timeout);
/// From now on the supervisor also sends every crash_report to `to`, as it happens.
expected<void, actor_error> subscribe_crash_reports(const actor_ref& sup, const actor_ref& to,
                                                    sup_timeout timeout = default_sup_timeout);
/// Ordered shutdown: children in reverse order, each by its shutdown spec, then the supervisor
/// itself (exit reason shutdown). Returns once it has ended.
expected<void, actor_error> stop_supervisor(const actor_ref& sup,
                                            sup_timeout timeout = default_sup_timeout);

// -- wire formats -------------------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_flags& x) {
  auto period = static_cast<std::int64_t>(x.period.count());
  auto b0 = static_cast<std::int64_t>(x.backoff_initial.count());
  auto b1 = static_cast<std::int64_t>(x.backoff_max.count());
  auto st = static_cast<std::int64_t>(x.stable_after.count());
  std::uint8_t log = x.log_crash_reports ? 1 : 0; // not bool: CAF's bool path trips GCC
  auto r = f(caf::meta::type_name("proctor::supervisor_flags"), x.how, x.intensity, period, b0, b1,
             st, x.max_crashes_per_message, x.dead_letters_kept, log);
  x.log_crash_reports = log != 0;
  x.period = std::chrono::milliseconds{period};
  x.backoff_initial = std::chrono::milliseconds{b0};
  x.backoff_max = std::chrono::milliseconds{b1};
  x.stable_after = std::chrono::milliseconds{st};
  return r;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_spec& x) {
  return f(caf::meta::type_name("proctor::supervisor_spec"), x.flags, x.children);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, crash_report& x) {
  return f(caf::meta::type_name("proctor::crash_report"), x.supervisor, x.child_id, x.pid, x.reason,
           x.in_flight, x.stderr_tail, x.restarts, x.action);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("proctor::dead_letter"), x.child_id, x.type, x.sender, x.crashes,
           x.type_id, x.payload, x.payload_size);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("proctor::child_info"), x.id, x.ref, x.pid, x.type, x.running,
           x.restarts, x.standby_pid);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("proctor::child_counts"), x.specs, x.active, x.supervisors,
           x.workers);
}

} // namespace proctor

PROCTOR_MESSAGE(proctor::crash_report, "proctor.crash_report");
PROCTOR_MESSAGE(proctor::child_counts, "proctor.child_counts");
PROCTOR_MESSAGE(std::vector<proctor::child_info>, "proctor.children");
PROCTOR_MESSAGE(std::vector<proctor::crash_report>, "proctor.crash_reports");
PROCTOR_MESSAGE(std::vector<proctor::dead_letter>, "proctor.dead_letters");
PROCTOR_MESSAGE(proctor::actor_ref, "proctor.actor_ref");
