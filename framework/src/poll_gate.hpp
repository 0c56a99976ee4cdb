#pragma once

#include <chrono>
#include <cstdint>

namespace proctor::detail {

/// A cheap "may the interval have passed since the last poll?" for an actor's busy loop, which
/// asked the clock after every batch (a vDSO call; about 4% of a ping-pong round trip, where a
/// batch is one message). The time-stamp counter takes a few cycles to read; once it has been
/// compared with the clock over a millisecond, the clock is read only when the counter says the
/// interval may be over. Only a hint: the clock still decides, and without a counter (or before
/// the comparison) every call says "maybe", as every batch asked the clock before.
class poll_gate {
 public:
  using clock = std::chrono::steady_clock;

  poll_gate(clock::time_point now, std::chrono::nanoseconds interval) noexcept
    : interval_(interval), anchor_(now), anchor_ticks_(ticks()), last_ticks_(anchor_ticks_) {}

  /// True unless the counter says that less than the interval has passed since polled().
  [[nodiscard]] bool maybe_due() const noexcept {
    return per_interval_ == 0 || ticks() - last_ticks_ >= per_interval_;
  }

  /// At a poll, `now` read from the clock just before.
  void polled(clock::time_point now) noexcept {
    last_ticks_ = ticks();
    if (per_interval_ != 0 || last_ticks_ == 0 || now - anchor_ < calibration)
      return;
    double ns = std::chrono::duration<double, std::nano>(now - anchor_).count();
    // Seven eighths of the interval: a counter that runs a little slow still leaves the clock
    // the last word.
    per_interval_ = static_cast<std::uint64_t>(static_cast<double>(last_ticks_ - anchor_ticks_)
                                               / ns * static_cast<double>(interval_.count()) * 7
                                               / 8);
  }

  /// The counter has been compared with the clock: maybe_due() may now say no.
  [[nodiscard]] bool calibrated() const noexcept { return per_interval_ != 0; }

  static constexpr std::chrono::milliseconds calibration{1};

 private:
  static std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
  }

  std::chrono::nanoseconds interval_;
  clock::time_point anchor_;
  std::uint64_t anchor_ticks_;
  std::uint64_t last_ticks_;
  std::uint64_t per_interval_ = 0; ///< counter ticks in seven eighths of the interval
};

} // namespace proctor::detail
