#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace proctor {

/// Why an actor_catalog could not make the start of a child.
enum class catalog_errc : std::uint8_t {
  unknown_actor,  ///< No actor is registered under the name.
  argument_count, ///< The actor takes another number of arguments.
  argument_type,  ///< An argument has another type than its parameter (a string for an integer).
  argument_range, ///< An integer does not fit its parameter's type (300 for an int8, -1 for uint32).
};

/// "unknown_actor", "argument_count", ...
[[nodiscard]] const char* to_string(catalog_errc code) noexcept;

/// A catalog error: its code, the argument it is about, and a sentence for people.
struct catalog_error {
  catalog_errc code = catalog_errc::unknown_actor;
  std::size_t argument = 0; ///< 0-based; meaningful for argument_type and argument_range only.
  std::string message;      ///< "actor 'ticker', argument 2 (int64): expected an integer, not
                            ///< the string \"fast\""
};

/// The message.
[[nodiscard]] std::string to_string(const catalog_error& e);

} // namespace proctor
