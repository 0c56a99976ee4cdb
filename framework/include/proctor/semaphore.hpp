#pragma once

#include <chrono>
#include <cstdint>

#include <caf/none.hpp>

#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/detail/shared_object.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor {
namespace detail {

enum class semaphore_kind : std::uint32_t {
  plain,   ///< release() may raise the count without limit (up to semaphore_max).
  bounded, ///< release() beyond the initial value is refused.
};

// The shared-memory side, in semaphore.cpp. `sem` is a mapped semaphore_cell.
[[nodiscard]] shared_object semaphore_create(semaphore_kind kind, std::uint32_t value);
[[nodiscard]] shared_object semaphore_open(const segment_handle& handle, semaphore_kind kind);
bool semaphore_acquire(const shared_object& sem,
                       const std::chrono::steady_clock::duration* timeout);
void semaphore_release(const shared_object& sem, std::uint32_t n);
[[nodiscard]] std::uint32_t semaphore_value(const shared_object& sem);

} // namespace detail

/// The largest count a semaphore holds (2^31 - 1).
inline constexpr std::uint32_t semaphore_max = 0x7fffffff;

/// A counting semaphore shared by processes, as `multiprocessing.Semaphore`
/// (basic_semaphore<plain>) and `BoundedSemaphore` (basic_semaphore<bounded>). Use the aliases
/// `semaphore` and `bounded_semaphore`.
///
/// acquire() takes one unit, waiting while the count is zero; release(n) gives n back. Nobody owns
/// a unit: any process may release, as in Python. The count lives in a futex word in a segment of
/// its own; a waiter spins briefly, then sleeps in the kernel (no CPU).
///
/// Waiters are never counted. release() sets the count and wakes every sleeper, which compete
/// again; so a waiter that dies at any point (even right after being woken) cannot swallow a
/// wake-up meant for the others.
///
/// Crash at the worst moment:
/// - a process killed while waiting leaves no trace;
/// - a process killed while holding units never gives them back: the semaphore does not know its
///   holders (neither does Python's). Waiters with a timeout see it; untimed waiters wait for
///   another release;
/// - a process killed inside release() either gave the units or not (one atomic step); if it died
///   after that step but before its wake-up call, sleepers notice within a second by themselves
///   (no waiter sleeps longer before it looks again).
///
/// An object is a handle: copies refer to the same semaphore, and the creator's last copy unlinks
/// its segment (keep one until every child has started). Children get it as an entry argument
/// (`process p{entry<f>, sem};`): forked children inherit the mapping, spawn and forkserver
/// children reopen it while their arguments are decoded.
///
/// Releases happen-before the acquires that take their units (release/acquire ordering).
/// @note Thread-safe. Operations on a moved-from object throw shm_error(misuse).
template <detail::semaphore_kind Kind>
class basic_semaphore {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// A new semaphore holding `value` units (for a bounded one, also its upper bound). Throws
  /// shm_error: `misuse` above semaphore_max, or if no segment can be made.
  explicit basic_semaphore(std::uint32_t value = 1) : sem_(detail::semaphore_create(Kind, value)) {}

  /// Maps the semaphore named by `handle`. Throws shm_error: `not_found` once its creator dropped
  /// it, `invalid` for a handle of something else (a bounded semaphore's opened as a plain one...).
  [[nodiscard]] static basic_semaphore open(const segment_handle& handle) {
    return basic_semaphore{detail::semaphore_open(handle, Kind)};
  }

  /// Takes one unit, waiting as long as it takes.
  void acquire() { detail::semaphore_acquire(sem_, nullptr); }

  /// Takes one unit, waiting at most `timeout` (zero or less: one attempt, no wait). Returns false
  /// if none became free in time. Measured on the monotonic clock.
  bool acquire(duration timeout) { return detail::semaphore_acquire(sem_, &timeout); }

  /// Gives `n` units back and wakes the waiters. Throws shm_error(misuse) if that would take the
  /// count past semaphore_max or, for a bounded semaphore, past its initial value (Python's
  /// ValueError); the count is then unchanged.
  void release(std::uint32_t n = 1) { detail::semaphore_release(sem_, n); }

  /// The count now (it may change at once).
  [[nodiscard]] std::uint32_t get_value() const { return detail::semaphore_value(sem_); }

  /// What another process passes to open(); also how inspect() sends the semaphore to a child.
  [[nodiscard]] segment_handle handle() const { return sem_.handle("semaphore"); }

  friend bool operator==(const basic_semaphore&, const basic_semaphore&) noexcept = default;

 private:
  explicit basic_semaphore(detail::shared_object sem) noexcept : sem_(std::move(sem)) {}

  detail::shared_object sem_;
};

using semaphore = basic_semaphore<detail::semaphore_kind::plain>;
using bounded_semaphore = basic_semaphore<detail::semaphore_kind::bounded>;

/// Sends a semaphore to a spawn or forkserver child as its segment's handle; the child maps it.
template <class Inspector, detail::semaphore_kind Kind>
typename Inspector::result_type inspect(Inspector& f, basic_semaphore<Kind>& x) {
  return detail::inspect_by_handle(f, x,
                                   Kind == detail::semaphore_kind::plain
                                     ? "proctor::semaphore"
                                     : "proctor::bounded_semaphore",
                                   x.handle());
}

} // namespace proctor
