#pragma once

#include <chrono>

#include <caf/none.hpp>

#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/detail/shared_object.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor {
namespace detail {

// The shared-memory side, in event.cpp. `ev` is a mapped event_cell.
[[nodiscard]] shared_object event_create();
[[nodiscard]] shared_object event_open(const segment_handle& handle);
void event_set(const shared_object& ev);
void event_clear(const shared_object& ev);
[[nodiscard]] bool event_is_set(const shared_object& ev);
bool event_wait(const shared_object& ev, const std::chrono::steady_clock::duration* timeout);

} // namespace detail

/// A flag shared by processes that they can wait for, as `multiprocessing.Event`: set() raises it
/// and wakes every waiter, clear() lowers it, wait() returns once it is raised.
///
/// A waiter also returns true for a set() that happened after it began waiting even if a clear()
/// lowered the flag again before it looked (the flag carries a generation), as Python's
/// threading.Event promises. The flag is a futex word in a segment of its own; waiters are never
/// counted: set() wakes all sleepers at once.
///
/// Crash at the worst moment: a process killed while waiting leaves no trace; set() and clear()
/// are single atomic steps, and a process killed after set()'s step but before its wake-up call
/// delays the sleepers by at most a second: no waiter sleeps longer than that before it looks at
/// the flag again by itself.
///
/// An object is a handle: copies refer to the same event, and the creator's last copy unlinks its
/// segment (keep one until every child has started). Children get it as an entry argument: forked
/// children inherit the mapping, spawn and forkserver children reopen it.
///
/// What a process wrote before set() is visible to a waiter that returns true (release/acquire).
/// @note Thread-safe. Operations on a moved-from object throw shm_error(misuse).
class event {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// A new event, not set. Throws shm_error if no segment can be made.
  event() : ev_(detail::event_create()) {}

  /// Maps the event named by `handle`. Throws shm_error: `not_found` once its creator dropped it,
  /// `invalid` for a handle of something else.
  [[nodiscard]] static event open(const segment_handle& handle) {
    return event{detail::event_open(handle)};
  }

  /// Raises the flag and wakes every waiter. Raising a raised flag does nothing.
  void set() { detail::event_set(ev_); }

  /// Lowers the flag.
  void clear() { detail::event_clear(ev_); }

  [[nodiscard]] bool is_set() const { return detail::event_is_set(ev_); }

  /// Returns once the flag is raised (at once if it is).
  void wait() { detail::event_wait(ev_, nullptr); }

  /// Waits at most `timeout` (zero or less: no wait). True if the flag was raised meanwhile (or
  /// already), false on timeout, as Python's wait(timeout). Measured on the monotonic clock.
  bool wait(duration timeout) { return detail::event_wait(ev_, &timeout); }

  /// What another process passes to open(); also how inspect() sends the event to a child.
  [[nodiscard]] segment_handle handle() const { return ev_.handle("event"); }

  friend bool operator==(const event&, const event&) noexcept = default;

 private:
  explicit event(detail::shared_object ev) noexcept : ev_(std::move(ev)) {}

  detail::shared_object ev_;
};

/// Sends an event to a spawn or forkserver child as its segment's handle; the child maps it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return detail::inspect_by_handle(f, x, "proctor::event", x.handle());
}

} // namespace proctor
