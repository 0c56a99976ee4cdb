#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace proctor::detail {

using steady_clock = std::chrono::steady_clock;
using deadline = std::optional<steady_clock::time_point>;

/// The monotonic-clock time `timeout` from now, saturating instead of overflowing; a timeout of
/// zero or less is now (one attempt, no wait).
[[nodiscard]] steady_clock::time_point deadline_after(steady_clock::duration timeout) noexcept;

/// The longest a parked waiter sleeps before it looks at its condition again by itself. It bounds
/// what a process killed between publishing a change and waking the sleepers can cost them.
inline constexpr std::chrono::seconds recheck_interval{1};

/// Waits while `word` holds `expected`: spins briefly, then sleeps on the futex until a wake-up,
/// the deadline (nullopt: none), or recheck_interval, whichever comes first. Returns false only
/// when the deadline has passed; true means "look again" (the word may or may not have changed).
/// @note Process-shared: `word` lives in shared memory.
bool park(std::atomic<std::uint32_t>& word, std::uint32_t expected, deadline until) noexcept;

/// True once `until` has passed (never for nullopt).
[[nodiscard]] bool expired(deadline until) noexcept;

} // namespace proctor::detail
