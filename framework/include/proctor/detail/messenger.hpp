#pragma once

#include <cstdint>
#include <vector>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/detail/actor_api.hpp"
#include "proctor/detail/item_codec.hpp"
#include "proctor/expected.hpp"
#include "proctor/message.hpp"
#include "proctor/process_error.hpp"

namespace proctor::detail {

/// What an actor and a scoped_actor both do: send, monitor, signal. Holds the core it works on.
/// @note Only the thread that runs the core may call these.
class messenger {
 public:
  using send_result = expected<void, actor_error>;

  /// Puts `msg` into `to`'s mailbox; FIFO per sender and receiver. Waits while the mailbox is
  /// full if the receiver's policy says block (up to its block timeout). Errors: noproc,
  /// mailbox_full, too_large, serialization. A message to an actor that has ended is an error
  /// here, never an exception: ignoring the result gives Erlang's fire-and-forget.
  template <class T>
  send_result send(const actor_ref& to, const T& msg) {
    static_assert(assert_message<T>());
    thread_local std::vector<char> scratch;
    std::string_view bytes;
    try {
      bytes = item_bytes(msg, scratch);
    } catch (const process_error&) {
      return encode_failure(message_traits<T>::name);
    }
    if (auto err = core_send(*core_, to, message_traits<T>::id, 0, 0, bytes))
      return *err;
    return {};
  }

  /// Erlang's erlang:monitor(process, Ref): one down_msg when `target` ends (at once, with
  /// noproc, if it already has). Returns the monitor's id, also found in the down_msg.
  /// Throws std::runtime_error if this process cannot watch it (out of file descriptors or
  /// memory): never a false DOWN for an actor that may live.
  std::uint64_t monitor(const actor_ref& target) { return core_monitor(*core_, target); }

  /// Cancels a monitor; its down_msg is not delivered afterwards.
  void demonitor(std::uint64_t monitor_id) { core_demonitor(*core_, monitor_id); }

  /// Erlang's exit(Ref, Reason): `kill` (exit_kind::killed) ends the target even if it traps
  /// exits; other reasons become an exit_msg for a trapping target, end a non-trapping one, and
  /// `normal` is ignored by a non-trapping one. Throws std::runtime_error if this process cannot
  /// deliver it (out of file descriptors or memory); to an actor that has ended it is nothing.
  void send_exit(const actor_ref& target, const exit_reason& why) {
    core_send_exit(*core_, target, why);
  }

  /// This actor's own ref.
  [[nodiscard]] const actor_ref& ref() const noexcept { return core_ref(*core_); }

  [[nodiscard]] actor_core& core() const noexcept { return *core_; }

 protected:
  explicit messenger(actor_core* core) noexcept : core_(core) {}
  actor_core* core_;
};

} // namespace proctor::detail
