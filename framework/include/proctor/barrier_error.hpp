#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace proctor {

/// Why a barrier is broken.
enum class barrier_errc : std::uint8_t {
  timeout,       ///< A wait timed out (that waiter broke it for all).
  aborted,       ///< abort() was called.
  reset,         ///< reset() ended the generation this waiter was in.
  action_failed, ///< The action threw (the process that ran it gets the action's exception).
};

[[nodiscard]] std::string_view to_string(barrier_errc code) noexcept;

/// Thrown by barrier::wait() when the barrier is broken or breaks while waiting, as Python's
/// BrokenBarrierError. The barrier stays broken until reset().
class broken_barrier_error : public std::runtime_error {
 public:
  broken_barrier_error(barrier_errc code, const std::string& what)
    : std::runtime_error(what), code_(code) {}

  [[nodiscard]] barrier_errc code() const noexcept { return code_; }

 private:
  barrier_errc code_;
};

} // namespace proctor
