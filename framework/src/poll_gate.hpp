#pragma once

#include <chrono>
#include <cstdint>

namespace proctor::detail {

/// A cheap "may the interval have passed since the last poll?" for an actor's busy loop, which
/// asked the clock after every batch (a vDSO call; about 4% of a ping-pong round trip, where a
/// batch is one message). The time-stamp counter takes a few cycles to read. Once the counter
/// has been compared with the clock over a millisecond or more, a "no" from the gate means that
/// by the counter less than seven eighths of the interval has passed, and the caller need not
/// read the clock; a "maybe" is for the clock to decide. Without a usable counter (none, going
/// backwards, a rate no counter has) every call says "maybe", as every batch asked the clock.
class poll_gate {
 public:
  using clock = std::chrono::steady_clock;

  explicit poll_gate(std::chrono::nanoseconds interval) noexcept : interval_(interval) {
    anchor_ = read();
    last_ticks_ = anchor_.ticks;
  }

  /// True unless the counter says that less than seven eighths of the interval has passed
  /// since polled().
  [[nodiscard]] bool maybe_due() const noexcept {
    return per_interval_ == 0 || ticks() - last_ticks_ >= per_interval_; // backwards: huge
  }

  /// At a poll: reads the clock, and the counter beside it; returns the clock's time.
  clock::time_point polled() noexcept {
    auto now = read();
    last_ticks_ = now.ticks;
    if (per_interval_ == 0)
      calibrate(now);
    return now.time;
  }

  /// The counter has been compared with the clock: maybe_due() may now say no.
  [[nodiscard]] bool calibrated() const noexcept { return per_interval_ != 0; }

  static constexpr std::chrono::milliseconds calibration{1};

 private:
  /// A clock reading between two counter readings: `ticks` their middle, `spread` how far
  /// apart they were (a preemption between them makes the pair useless for calibrating).
  struct reading {
    clock::time_point time;
    std::uint64_t ticks;
    std::uint64_t spread;
  };

  static std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
  }

  static reading read() noexcept {
    auto before = ticks();
    auto time = clock::now();
    auto after = ticks();
    return {time, before + (after - before) / 2, after - before};
  }

  void calibrate(const reading& now) noexcept {
    if (now.time - anchor_.time < calibration)
      return;
    // Usable only if both readings were tight (each pair within a thousandth of the span) and
    // the rate is one a counter has (0.1 to 20 per nanosecond). A counter gone backwards, a
    // loose anchor or an odd rate start over from here; a loose reading now waits for the next.
    auto elapsed = now.ticks - anchor_.ticks;
    if (now.ticks <= anchor_.ticks || anchor_.spread > elapsed / 1000) {
      anchor_ = now;
      return;
    }
    if (now.spread > elapsed / 1000)
      return;
    double ns = std::chrono::duration<double, std::nano>(now.time - anchor_.time).count();
    double per_ns = static_cast<double>(elapsed) / ns;
    if (per_ns < 0.1 || per_ns > 20) {
      anchor_ = now;
      return;
    }
    // Seven eighths of the interval: a counter that runs a little slower than it seemed to
    // still says "maybe" before the interval is over, and the clock has the last word.
    per_interval_ =
      static_cast<std::uint64_t>(per_ns * static_cast<double>(interval_.count()) * 7 / 8);
  }

  std::chrono::nanoseconds interval_;
  reading anchor_{};
  std::uint64_t last_ticks_ = 0;
  std::uint64_t per_interval_ = 0; ///< counter ticks in seven eighths of the interval
};

} // namespace proctor::detail
