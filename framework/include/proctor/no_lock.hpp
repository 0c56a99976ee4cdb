#pragma once

namespace proctor {

/// Asks value and array for shared memory without a lock, as Python's `Value(..., lock=False)`.
struct no_lock_t {
  explicit no_lock_t() = default;
};

inline constexpr no_lock_t no_lock{};

} // namespace proctor
