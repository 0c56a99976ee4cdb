#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/exit_reason.hpp"

namespace boost::asio {
class io_context;
}

namespace proctor {
class behavior;
}

/// The seam between the message templates of the public headers and the actor machinery in
/// framework/src (actor_core.cpp), which is the only place that knows the mailbox, the event loop
/// and the death watches.
namespace proctor::detail {

class actor_core;

/// Envelope flags.
inline constexpr std::uint32_t flag_request = 1;  ///< The sender waits for a reply.
inline constexpr std::uint32_t flag_response = 2; ///< A reply; request_id names the request.
inline constexpr std::uint32_t flag_error = 4;    ///< A reply that carries an actor_error.
inline constexpr std::uint32_t flag_system = 8;   ///< For the runtime (link, exit signal, ...).

/// A message as the handler sees it: valid only during the call.
struct message_view {
  std::uint64_t type_id = 0;
  std::uint64_t request_id = 0;
  std::uint32_t flags = 0;
  const std::byte* payload = nullptr;
  std::size_t size = 0;
};

/// One handler call: the message in, the reply out.
struct invocation {
  message_view msg;
  std::uint64_t reply_type = 0;   ///< 0: no reply produced.
  std::vector<char> reply_bytes;
  std::optional<actor_error> reply_error;
  bool promised = false;          ///< The handler made a response_promise: no automatic reply.
};

using duration = std::chrono::steady_clock::duration;
using timer_id = std::uint64_t;

/// Encodes and puts one message into `to`'s mailbox, applying the receiver's overflow policy.
std::optional<actor_error> core_send(actor_core& self, const actor_ref& to, std::uint64_t type_id,
                                     std::uint32_t flags, std::uint64_t request_id,
                                     std::string_view payload);

using reply_fn = std::function<void(const message_view&)>;
using error_fn = std::function<void(const actor_error&)>;

/// Sends a request; exactly one of on_reply / on_error runs later, on the loop: the reply, or
/// timeout, or the receiver's end (down), or a send error.
void core_request(actor_core& self, const actor_ref& to, duration timeout, std::uint64_t type_id,
                  std::string_view payload, reply_fn on_reply, error_fn on_error);

/// Sends a request and runs the loop until its reply (copied into `reply`), an error, or the
/// timeout. Other messages wait for receive(). For scoped_actor.
std::optional<actor_error> core_request_wait(actor_core& self, const actor_ref& to, duration timeout,
                                             std::uint64_t type_id, std::string_view payload,
                                             std::uint64_t& reply_type, std::vector<char>& reply);

/// Runs the loop until one message is handled by `bhvr` (true) or `timeout` passes (false);
/// messages `bhvr` does not handle stay queued, in order. For scoped_actor.
bool core_receive(actor_core& self, duration timeout, const behavior& bhvr);

[[nodiscard]] const actor_ref& core_ref(actor_core& self) noexcept;
[[nodiscard]] const actor_ref& core_sender(actor_core& self) noexcept;
[[nodiscard]] invocation* core_invocation(actor_core& self) noexcept;
void core_become(actor_core& self, behavior b);
void core_quit(actor_core& self, exit_reason why);
std::uint64_t core_monitor(actor_core& self, const actor_ref& target);
void core_demonitor(actor_core& self, std::uint64_t monitor_id);
void core_link(actor_core& self, const actor_ref& target);
void core_unlink(actor_core& self, const actor_ref& target);
void core_trap_exit(actor_core& self, bool on);
void core_send_exit(actor_core& self, const actor_ref& target, const exit_reason& why);
[[nodiscard]] boost::asio::io_context& core_io(actor_core& self);
timer_id core_run_later(actor_core& self, duration delay, std::function<void()> fn);
timer_id core_run_every(actor_core& self, duration period, std::function<void()> fn);
void core_cancel_timer(actor_core& self, timer_id id);

/// The current exception as an actor_error(serialization) when encoding fails.
actor_error encode_failure(std::string_view what_type);

} // namespace proctor::detail
