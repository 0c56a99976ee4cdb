#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

bool futex_wait_any(const std::atomic<std::uint32_t>* const* words, const std::uint32_t* expected,
                    std::size_t count, std::chrono::steady_clock::time_point deadline) noexcept {
  static_assert(futex_wait_any_max == FUTEX_WAITV_MAX);
  if (count == 0 || count > futex_wait_any_max)
    return true;
  std::array<futex_waitv, futex_wait_any_max> waiters{};
  for (std::size_t i = 0; i < count; ++i) {
    waiters[i].val = expected[i];
    waiters[i].uaddr = reinterpret_cast<std::uintptr_t>(words[i]);
    waiters[i].flags = FUTEX_32; // shared: no FUTEX2_PRIVATE
  }
  auto ns =
    std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  if (ns < 0)
    ns = 0;
  timespec abs{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  long rc = ::syscall(SYS_futex_waitv, waiters.data(), static_cast<unsigned>(count), 0u, &abs,
                      CLOCK_MONOTONIC);
  if (rc >= 0)
    return true; // woken
  if (errno == ETIMEDOUT)
    return false;
  if (errno == ENOSYS) {
    auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds{1};
    futex_wait(*const_cast<std::atomic<std::uint32_t>*>(words[0]), expected[0],
               std::min(deadline, soon));
    return std::chrono::steady_clock::now() < deadline;
  }
  return true; // EAGAIN (a word had changed), EINTR: the caller looks again
}

int futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count,
                      nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

} // namespace proctor::detail
