#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace proctor::detail {

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::steady_clock::time_point> deadline,
                bool return_on_signal) noexcept {
  timespec abs{};
  timespec* timeout = nullptr;
  if (deadline) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time: EINTR needs no recomputation.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                deadline->time_since_epoch()).count();
    if (ns < 0)
      ns = 0;
    abs.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    abs.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout = &abs;
  }
  for (;;) {
    long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET,
                        expected, timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0 || errno == EAGAIN)
      return true;          // woken, or the word already changed
    if (errno == ETIMEDOUT)
      return false;
    if (errno != EINTR || return_on_signal)
      return true;          // let the caller re-check rather than spin on an odd error
  }
}

int futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count,
                      nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

} // namespace proctor::detail
