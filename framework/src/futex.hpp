#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace proctor::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word is a lock-free 32-bit atomic");

/// Sleeps while `word` holds `expected`, until futex_wake() on the same word (from any process
/// that maps it), a spurious wake-up, or the deadline (nullopt: none). Returns false only when the
/// deadline passed. Callers re-check their condition in a loop.
/// @note Process-shared: never FUTEX_PRIVATE_FLAG. The word must live in shared memory.
/// `return_on_signal`: a signal handler that ran ends the wait (true), so that the caller can
/// look at what the handler did.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::steady_clock::time_point> deadline,
                bool return_on_signal = false) noexcept;

/// Sleeps until any of `words` (at most futex_wait_any_max) no longer holds its `expected`
/// value or is woken, or `deadline` passed (false). Before Linux 5.16 (no futex_waitv), sleeps
/// on the first word for a millisecond at most, so that the caller looks at the others again.
/// @note Process-shared, like futex_wait().
bool futex_wait_any(const std::atomic<std::uint32_t>* const* words, const std::uint32_t* expected,
                    std::size_t count, std::chrono::steady_clock::time_point deadline) noexcept;
inline constexpr std::size_t futex_wait_any_max = 128; ///< FUTEX_WAITV_MAX

/// Wakes up to `count` sleepers on `word` (all by default). Returns how many woke.
int futex_wake(std::atomic<std::uint32_t>& word, int count = 0x7fffffff) noexcept;

} // namespace proctor::detail
