#include "park.hpp"

#include <algorithm>

#include "futex.hpp"

namespace proctor::detail {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace

steady_clock::time_point deadline_after(steady_clock::duration timeout) noexcept {
  auto now = steady_clock::now();
  if (timeout <= steady_clock::duration::zero())
    return now;
  if (timeout > steady_clock::time_point::max() - now)
    return steady_clock::time_point::max();
  return now + timeout;
}

bool expired(deadline until) noexcept {
  return until && steady_clock::now() >= *until;
}

bool park(std::atomic<std::uint32_t>& word, std::uint32_t expected, deadline until) noexcept {
  // A short spin catches the wake-ups that come within microseconds without a system call.
  for (int i = 0; i < 64; ++i) {
    if (word.load(std::memory_order_acquire) != expected)
      return true;
    cpu_relax();
  }
  auto slice_end = steady_clock::now() + recheck_interval;
  auto wake_at = until ? std::min(*until, slice_end) : slice_end;
  futex_wait(word, expected, wake_at);
  return !expired(until);
}

} // namespace proctor::detail
