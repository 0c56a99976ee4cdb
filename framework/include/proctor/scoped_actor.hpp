#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/behavior.hpp"
#include "proctor/detail/actor_api.hpp"
#include "proctor/detail/messenger.hpp"
#include "proctor/expected.hpp"
#include "proctor/message.hpp"

namespace proctor {

namespace detail {
/// Creates a core with a mailbox for the calling thread; destroy_core releases it.
actor_core* make_scoped_core(const std::string& name, std::size_t mailbox_bytes = 1 << 20);
void destroy_core(actor_core* core) noexcept;
} // namespace detail

/// An actor-like mailbox for code that is not an actor — main(), a test, a thread of a host
/// service (CAF's scoped_actor): it can send, make blocking requests, receive and monitor.
/// It always traps exits: exit signals arrive as exit_msg.
/// @note Use it from the thread that made it.
class scoped_actor : public detail::messenger {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// `mailbox_bytes`: shared memory for the messages queued to it.
  explicit scoped_actor(const std::string& name = "scoped", std::size_t mailbox_bytes = 1 << 20)
    : messenger(detail::make_scoped_core(name, mailbox_bytes)) {}
  ~scoped_actor() { detail::destroy_core(core_); }
  scoped_actor(const scoped_actor&) = delete;
  scoped_actor& operator=(const scoped_actor&) = delete;

  /// Sends `msg` as a request and waits for its reply of type R: the reply, or an error
  /// (timeout, down with the receiver's exit reason, noproc, unhandled, handler_error, bad_reply).
  template <class R, class T>
  expected<R, actor_error> request(const actor_ref& to, duration timeout, const T& msg) {
    static_assert(assert_message<T>());
    static_assert(assert_message<R>());
    thread_local std::vector<char> scratch;
    std::string_view bytes;
    try {
      bytes = detail::item_bytes(msg, scratch);
    } catch (const process_error&) {
      return detail::encode_failure(message_traits<T>::name);
    }
    std::uint64_t reply_type = 0;
    std::vector<char> reply;
    if (auto err = detail::core_request_wait(*core_, to, timeout, message_traits<T>::id, bytes,
                                             reply_type, reply))
      return *err;
    if (reply_type != message_traits<R>::id)
      return actor_error{actor_errc::bad_reply,
                         "expected a " + std::string{message_traits<R>::name} + " reply, got "
                           + detail::message_type_name(reply_type),
                         {}};
    R value = detail::blank_value<R>();
    try {
      detail::decode_item(reinterpret_cast<const std::byte*>(reply.data()), reply.size(), value);
    } catch (const std::exception& e) {
      return actor_error{actor_errc::bad_reply, e.what(), {}};
    }
    return value;
  }

  /// Waits up to `timeout` for one message that one of `handlers` takes, and runs that handler.
  /// Returns false on timeout. Messages no handler takes stay queued for a later receive.
  template <class... Fs>
  bool receive(duration timeout, Fs... handlers) {
    behavior b{std::move(handlers)...};
    return detail::core_receive(*core_, timeout, b);
  }

  /// Erlang's link/1, seen from a non-actor: the other's end arrives as an exit_msg.
  void link(const actor_ref& other) { detail::core_link(*core_, other); }
  void unlink(const actor_ref& other) { detail::core_unlink(*core_, other); }
};

} // namespace proctor
