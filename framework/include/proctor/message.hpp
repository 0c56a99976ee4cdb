#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "proctor/serializable.hpp"

namespace proctor {

/// What makes a type a message: a stable name, given once with PROCTOR_MESSAGE. Its wire id is
/// a hash of that name, so every process agrees on it, whichever way it was started and whatever
/// binary it runs.
template <class T>
struct message_traits {
  static constexpr bool registered = false;
  // Placeholders, so that a use of an unregistered type fails with assert_message's one line
  // and nothing else.
  static constexpr std::string_view name = "(not a message)";
  static constexpr std::uint64_t id = 0;
};

/// True for types registered with PROCTOR_MESSAGE.
template <class T>
concept message = message_traits<T>::registered && serializable<T>;

namespace detail {

/// FNV-1a of a message name: its wire id.
constexpr std::uint64_t wire_id(std::string_view name) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : name)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

/// Records `name` under `id` in this program's table of message types (for dead-letter logs);
/// aborts at start-up if two different names share an id. Returns true.
bool register_message_type(std::uint64_t id, std::string_view name, std::string_view cxx_type);

/// The registered name of wire id `id`, or "unknown type 0x…".
[[nodiscard]] std::string message_type_name(std::uint64_t id);

template <class T>
consteval std::string_view cxx_type_name() { return __PRETTY_FUNCTION__; }

} // namespace detail

/// Sends need this one line: a message type without it does not compile.
template <class T>
inline constexpr bool assert_message() {
  static_assert(message_traits<T>::registered,
                "proctor: this type is not a message: register it with PROCTOR_MESSAGE(T, \"name\")");
  static_assert(serializable<T>,
                "proctor: a message must be trivially copyable or have a CAF inspect overload");
  return true;
}

} // namespace proctor

/// Registers T as a message type under a stable NAME (at global scope, once per type):
///
///     struct ping { int n; };
///     PROCTOR_MESSAGE(ping, "example.ping");
#define PROCTOR_MESSAGE(T, NAME)                                                                 \
  template <>                                                                                    \
  struct proctor::message_traits<T> {                                                           \
    static constexpr bool registered = true;                                                     \
    static constexpr std::string_view name = NAME;                                              \
    static constexpr std::uint64_t id = ::proctor::detail::wire_id(NAME);                       \
    static inline const bool listed                                                              \
      = ::proctor::detail::register_message_type(id, name, ::proctor::detail::cxx_type_name<T>()); \
  }

PROCTOR_MESSAGE(std::string, "std.string");
PROCTOR_MESSAGE(bool, "std.bool");
PROCTOR_MESSAGE(std::int32_t, "std.int32");
PROCTOR_MESSAGE(std::int64_t, "std.int64");
PROCTOR_MESSAGE(std::uint32_t, "std.uint32");
PROCTOR_MESSAGE(std::uint64_t, "std.uint64");
PROCTOR_MESSAGE(double, "std.double");
PROCTOR_MESSAGE(std::vector<std::int64_t>, "std.vector.int64");
PROCTOR_MESSAGE(std::vector<std::string>, "std.vector.string");
