#pragma once

#include <cstdint>
#include <string_view>

namespace proctor {

/// What acquire() of a lock or rlock did, and what the caller does next.
enum class acquire_result : std::uint8_t {
  acquired,            ///< Held; the previous holder released it.
  acquired_owner_died, ///< Held; the previous holder died holding it. The lock works again, but
                       ///< the data it guards may be half-updated: check or repair it first.
  timeout,             ///< Not held: the timeout passed first.
};

[[nodiscard]] std::string_view to_string(acquire_result r) noexcept;

/// True for the results that leave the lock held by the caller (and to be released).
[[nodiscard]] constexpr bool holds(acquire_result r) noexcept {
  return r != acquire_result::timeout;
}

} // namespace proctor
