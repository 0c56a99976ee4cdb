#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "proctor/actor_error.hpp"
#include "proctor/detail/actor_api.hpp"
#include "proctor/detail/item_codec.hpp"
#include "proctor/expected.hpp"
#include "proctor/message.hpp"
#include "proctor/system_messages.hpp"

namespace proctor {

namespace detail {

/// Thrown by a handler when its message does not decode: the loop reports and skips it.
struct malformed_message {
  std::string why;
};

template <class F>
struct handler_traits : handler_traits<decltype(&F::operator())> {};

template <class R, class A>
struct handler_traits<R (*)(A)> {
  using result = R;
  using argument = std::remove_cvref_t<A>;
};

template <class C, class R, class A>
struct handler_traits<R (C::*)(A)> : handler_traits<R (*)(A)> {};
template <class C, class R, class A>
struct handler_traits<R (C::*)(A) const> : handler_traits<R (*)(A)> {};
template <class C, class R, class A>
struct handler_traits<R (C::*)(A) noexcept> : handler_traits<R (*)(A)> {};
template <class C, class R, class A>
struct handler_traits<R (C::*)(A) const noexcept> : handler_traits<R (*)(A)> {};

template <class T>
inline constexpr bool is_actor_expected_v = false;
template <class T>
inline constexpr bool is_actor_expected_v<expected<T, actor_error>> = true;

template <class R>
void store_reply(invocation& inv, const R& value) {
  assert_message<R>();
  std::vector<char> scratch;
  auto bytes = item_bytes(value, scratch);
  inv.reply_type = message_traits<R>::id;
  inv.reply_bytes.assign(bytes.begin(), bytes.end());
}

/// Decodes a T from a message; throws malformed_message if it does not decode.
template <class T>
T decode_message(const message_view& msg) {
  T value = blank_value<T>();
  try {
    decode_item(msg.payload, msg.size, value);
  } catch (const std::exception& e) {
    throw malformed_message{e.what()};
  }
  return value;
}

/// One typed handler of a behavior.
struct handler {
  std::uint64_t type_id;
  std::string_view type_name;
  std::function<void(invocation&)> call;
};

template <class F>
handler make_handler(F f) {
  using traits = handler_traits<std::decay_t<F>>;
  using T = typename traits::argument;
  using R = typename traits::result;
  static_assert(assert_message<T>());
  return {message_traits<T>::id, message_traits<T>::name, [f = std::move(f)](invocation& inv) mutable {
            T value = decode_message<T>(inv.msg);
            if constexpr (std::is_void_v<R>) {
              f(value);
              if (inv.msg.flags & flag_request)
                store_reply(inv, ok_msg{});
            } else if constexpr (is_actor_expected_v<R>) {
              R result = f(value);
              if (result)
                store_reply(inv, *result);
              else
                inv.reply_error = result.error();
            } else {
              store_reply(inv, f(value));
            }
          }};
}

} // namespace detail

/// A set of typed handlers, one per message type (CAF's behavior): each is a callable taking one
/// message (by value or const reference) and returning nothing, a reply, or
/// `expected<Reply, actor_error>`:
///
///     proctor::behavior{
///       [](const add& a) { return a.x + a.y; },          // a request gets the sum back
///       [&](const std::string& s) { log(s); },
///     };
///
/// A request answered by a handler that returns nothing gets an ok_msg.
class behavior {
 public:
  behavior() = default;

  template <class... Fs>
    requires(sizeof...(Fs) > 0 && (!std::is_same_v<std::remove_cvref_t<Fs>, behavior> && ...))
  behavior(Fs... fs) { // NOLINT: implicit, so a function actor may `return {handlers...};`
    (handlers_.push_back(detail::make_handler(std::move(fs))), ...);
  }

  /// The handler for `type_id`, or nullptr.
  [[nodiscard]] const detail::handler* find(std::uint64_t type_id) const noexcept {
    for (const auto& h : handlers_)
      if (h.type_id == type_id)
        return &h;
    return nullptr;
  }

  [[nodiscard]] bool empty() const noexcept { return handlers_.empty(); }

 private:
  std::vector<detail::handler> handlers_;
};

} // namespace proctor
