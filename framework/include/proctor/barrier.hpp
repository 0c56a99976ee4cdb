#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include <caf/none.hpp>

#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/barrier_error.hpp"
#include "proctor/detail/shared_object.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor {
namespace detail {

// The shared-memory side, in barrier.cpp. `bar` is a mapped barrier_cell.
[[nodiscard]] shared_object barrier_create(std::uint32_t parties, bool has_action,
                                           std::optional<std::chrono::nanoseconds> timeout);
[[nodiscard]] shared_object barrier_open(const segment_handle& handle);
std::uint32_t barrier_wait(const shared_object& bar, const std::function<void()>& action,
                           const std::chrono::steady_clock::duration* timeout);
void barrier_abort(const shared_object& bar);
void barrier_reset(const shared_object& bar);
[[nodiscard]] std::uint32_t barrier_parties(const shared_object& bar);
[[nodiscard]] std::uint32_t barrier_n_waiting(const shared_object& bar);
[[nodiscard]] bool barrier_broken(const shared_object& bar);

} // namespace detail

/// A barrier for a fixed number of processes, as `multiprocessing.Barrier`: each of `parties`
/// processes calls wait(); when the last one arrives, the optional action runs in that process,
/// then all of them return, each with its own arrival index 0..parties-1 (the last arrival gets
/// parties-1), and the barrier is ready for the next round.
///
/// A wait that times out, abort(), or an action that throws breaks the barrier: every waiter, and
/// every later wait(), throws broken_barrier_error (saying why) until reset(). reset() returns it
/// to a fresh round; processes that were waiting in the round it ended throw (`reset`). As in
/// Python, reset() while others wait needs outside coordination: a process still asleep in an
/// earlier round that tripped may read a reset of the following round as its own.
///
/// The action is a process-local std::function: it crosses to forked children with their copy of
/// the barrier, but cannot cross into a spawn or forkserver child, which receives only the handle:
/// passing a barrier with an action to such a child is refused (shm_error(misuse) when the child
/// decodes its arguments). Without an action a barrier crosses under every start method.
///
/// State is one futex word (arrivals, generation, broken bit) in a segment of its own; waiters
/// sleep until the generation moves or the barrier breaks, and are not counted apart from their
/// arrival. Crash at the worst moment:
/// - a process killed while waiting has arrived: the others trip the barrier without it
///   (n_waiting() counts it until then);
/// - a process killed before arriving never arrives: the others wait until a timeout breaks the
///   barrier (give every wait a timeout, or a default timeout, when processes may die);
/// - the last arrival killed while running its action leaves the round full and unfinished: the
///   others wait until their timeout breaks it (or abort());
/// - a process killed between changing the word and waking sleepers delays them by at most a
///   second (no waiter sleeps longer before it looks again).
///
/// An object is a handle: copies refer to the same barrier, and the creator's last copy unlinks its
/// segment. Everything a process wrote before its wait() is visible to every process after theirs.
/// @note Thread-safe. A default-constructed or moved-from barrier is empty: operations throw
///       shm_error(misuse).
class barrier {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// An empty handle, for loading a barrier received from another process into.
  barrier() noexcept = default;

  /// A new barrier for `parties` processes (1..65535), an optional action run by the last arrival
  /// of each round before the others are released, and an optional default timeout for wait().
  /// Throws shm_error(misuse) for 0 or too many parties, shm_error if no segment can be made.
  explicit barrier(std::uint32_t parties, std::function<void()> action = {},
                   std::optional<duration> timeout = std::nullopt)
    : bar_(detail::barrier_create(parties, static_cast<bool>(action), timeout)),
      action_(std::move(action)) {}

  /// Maps the barrier named by `handle`. Throws shm_error: `not_found` once its creator dropped it,
  /// `invalid` for a handle of something else, `misuse` for a barrier with an action (which only
  /// forked children can run).
  [[nodiscard]] static barrier open(const segment_handle& handle) {
    return barrier{detail::barrier_open(handle)};
  }

  /// Arrives and waits for the others, with the default timeout given at construction (if any).
  /// Returns the arrival index. Throws broken_barrier_error; whatever the action throws (in the
  /// process that ran it, after breaking the barrier).
  std::uint32_t wait() { return detail::barrier_wait(bar_, action_, nullptr); }

  /// Arrives and waits at most `timeout` (zero or less: the others must all be there already);
  /// a timeout breaks the barrier. Otherwise as wait().
  std::uint32_t wait(duration timeout) { return detail::barrier_wait(bar_, action_, &timeout); }

  /// Breaks the barrier: waiters and later wait() calls throw (`aborted`) until reset().
  void abort() { detail::barrier_abort(bar_); }

  /// Starts a fresh round, not broken, with nobody arrived; current waiters throw (`reset`).
  void reset() { detail::barrier_reset(bar_); }

  [[nodiscard]] std::uint32_t parties() const { return detail::barrier_parties(bar_); }

  /// How many processes arrived in the current round and wait (dead ones included).
  [[nodiscard]] std::uint32_t n_waiting() const { return detail::barrier_n_waiting(bar_); }

  [[nodiscard]] bool broken() const { return detail::barrier_broken(bar_); }

  /// What another process passes to open(); also how inspect() sends the barrier to a child.
  [[nodiscard]] segment_handle handle() const { return bar_.handle("barrier"); }

  /// False for an empty (default-constructed or moved-from) handle.
  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(bar_); }

  friend bool operator==(const barrier& a, const barrier& b) noexcept { return a.bar_ == b.bar_; }

 private:
  explicit barrier(detail::shared_object bar) noexcept : bar_(std::move(bar)) {}

  detail::shared_object bar_;
  std::function<void()> action_; ///< Process-local: copied into forked children only.
};

/// Sends a barrier (without action) to a spawn or forkserver child as its segment's handle.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, barrier& x) {
  // Empty while a child decodes it: the handle is then loaded, not read.
  return detail::inspect_by_handle(f, x, "proctor::barrier", x ? x.handle() : segment_handle{});
}

} // namespace proctor
