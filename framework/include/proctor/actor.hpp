#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/behavior.hpp"
#include "proctor/detail/actor_api.hpp"
#include "proctor/detail/messenger.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/message.hpp"

namespace proctor {

class actor;

/// A reply promised for later (CAF's response_promise): made inside a request's handler, it
/// suppresses the automatic reply; deliver() sends it, from any later handler or timer.
template <class R>
class response_promise {
 public:
  /// Sends the reply; later calls do nothing.
  void deliver(const R& value) {
    if (!pending_)
      return;
    pending_ = false;
    std::vector<char> scratch;
    auto bytes = detail::item_bytes(value, scratch);
    (void)detail::core_send(*core_, to_, message_traits<R>::id, detail::flag_response, request_id_,
                            bytes);
  }

  /// Answers with an error instead.
  void deliver_error(const actor_error& err) {
    if (!pending_)
      return;
    pending_ = false;
    std::vector<char> scratch;
    auto bytes = detail::item_bytes(err, scratch);
    (void)detail::core_send(*core_, to_, message_traits<actor_error>::id,
                            detail::flag_response | detail::flag_error, request_id_, bytes);
  }

  [[nodiscard]] bool pending() const noexcept { return pending_; }

 private:
  friend class actor;
  response_promise(detail::actor_core* core, actor_ref to, std::uint64_t request_id, bool pending)
    : core_(core), to_(std::move(to)), request_id_(request_id), pending_(pending) {}

  detail::actor_core* core_;
  actor_ref to_;
  std::uint64_t request_id_;
  bool pending_;
};

/// A request on its way (CAF's `request(...).then(...)`): nothing is sent until then() says what
/// to do with the reply.
template <class T>
class [[nodiscard]] pending_request {
 public:
  /// Sends the request. Exactly one of the two runs later on the actor's loop: `on_reply` with the
  /// typed reply, or `on_error` with timeout, down (the receiver ended: its reason), noproc,
  /// mailbox_full, unhandled, handler_error or bad_reply.
  template <class OnReply, class OnError>
  void then(OnReply on_reply, OnError on_error) {
    using R = typename detail::handler_traits<std::decay_t<OnReply>>::argument;
    static_assert(assert_message<R>());
    std::vector<char> scratch;
    std::string_view bytes;
    try {
      bytes = detail::item_bytes(msg_, scratch);
    } catch (const process_error&) {
      on_error(detail::encode_failure(message_traits<T>::name));
      return;
    }
    auto fail = std::make_shared<OnError>(std::move(on_error));
    detail::core_request(
      *core_, to_, timeout_, message_traits<T>::id, bytes,
      [on_reply = std::move(on_reply), fail](const detail::message_view& reply) mutable {
        if (reply.type_id != message_traits<R>::id) {
          (*fail)(actor_error{actor_errc::bad_reply,
                              "expected a " + std::string{message_traits<R>::name} + " reply, got "
                                + detail::message_type_name(reply.type_id),
                              {}});
          return;
        }
        R value = detail::blank_value<R>();
        try {
          detail::decode_item(reply.payload, reply.size, value);
        } catch (const std::exception& e) {
          (*fail)(actor_error{actor_errc::bad_reply, e.what(), {}});
          return;
        }
        on_reply(value);
      },
      [fail](const actor_error& err) { (*fail)(err); });
  }

 private:
  friend class actor;
  pending_request(detail::actor_core* core, actor_ref to, detail::duration timeout, const T& msg)
    : core_(core), to_(std::move(to)), timeout_(timeout), msg_(msg) {}

  detail::actor_core* core_;
  actor_ref to_;
  detail::duration timeout_;
  T msg_;
};

/// The running actor, as its handlers see it (CAF's `self`): an actor's code gets `actor& self`.
/// @note Only the actor's own process, on its loop, may use it.
class actor : public detail::messenger {
 public:
  explicit actor(detail::actor_core* core) noexcept : messenger(core) {}

  /// request(to, timeout, msg).then(on_reply, on_error).
  template <class T>
  pending_request<T> request(const actor_ref& to, std::chrono::steady_clock::duration timeout,
                             const T& msg) {
    static_assert(assert_message<T>());
    return pending_request<T>{core_, to, timeout, msg};
  }

  /// Sends `msg` to `to` after `delay`, from this actor's loop.
  template <class T>
  detail::timer_id delayed_send(const actor_ref& to, std::chrono::steady_clock::duration delay, T msg) {
    static_assert(assert_message<T>());
    return run_later(delay, [this, to, msg = std::move(msg)] { (void)send(to, msg); });
  }

  /// Runs `fn` once on the loop after `delay`.
  detail::timer_id run_later(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
    return detail::core_run_later(*core_, delay, std::move(fn));
  }

  /// Runs `fn` on the loop every `period` until cancelled or the actor ends.
  detail::timer_id run_every(std::chrono::steady_clock::duration period, std::function<void()> fn) {
    return detail::core_run_every(*core_, period, std::move(fn));
  }

  void cancel_timer(detail::timer_id id) { detail::core_cancel_timer(*core_, id); }

  /// Replaces the behavior from the next message on.
  void become(behavior next) { detail::core_become(*core_, std::move(next)); }

  /// Ends the actor after the current handler returns.
  void quit(exit_reason why = {}) { detail::core_quit(*core_, std::move(why)); }

  /// Erlang's link/1: when either actor ends with a reason other than normal, the other gets an
  /// exit signal: it ends with the same reason, or receives an exit_msg if it traps exits.
  /// Throws std::runtime_error if this process cannot watch `other` (out of file descriptors or
  /// memory): never a false exit signal for an actor that may live.
  void link(const actor_ref& other) { detail::core_link(*core_, other); }
  void unlink(const actor_ref& other) { detail::core_unlink(*core_, other); }

  /// Erlang's process_flag(trap_exit, On).
  void trap_exit(bool on) { detail::core_trap_exit(*core_, on); }

  /// The sender of the message being handled (an empty ref for timers and anonymous sends).
  [[nodiscard]] const actor_ref& current_sender() const noexcept { return detail::core_sender(*core_); }

  /// Takes over the reply to the request being handled (see response_promise).
  template <class R>
  response_promise<R> make_response_promise() {
    static_assert(assert_message<R>());
    auto* inv = detail::core_invocation(*core_);
    bool is_request = inv != nullptr && (inv->msg.flags & detail::flag_request) != 0;
    if (is_request)
      inv->promised = true;
    return {core_, current_sender(), is_request ? inv->msg.request_id : 0, is_request};
  }

  /// The actor's Boost.Asio loop, for its own timers, sockets and descriptors.
  [[nodiscard]] boost::asio::io_context& io_context() { return detail::core_io(*core_); }
};

} // namespace proctor
