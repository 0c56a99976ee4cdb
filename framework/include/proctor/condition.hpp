#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include "proctor/acquire_result.hpp"
#include "proctor/detail/shared_object.hpp"
#include "proctor/lock.hpp"
#include "proctor/shm_error.hpp"

namespace proctor {
namespace detail {

// The shared-memory side, in condition.cpp. `cv` is a mapped condition_cell.
[[nodiscard]] shared_object condition_create();
[[nodiscard]] shared_object condition_open(const segment_handle& handle);
[[nodiscard]] std::uint32_t condition_sequence(const shared_object& cv);
/// Sleeps until the sequence moves away from `seen` or the deadline passes (false).
bool condition_sleep(const shared_object& cv, std::uint32_t seen,
                     std::optional<std::chrono::steady_clock::time_point> until);
void condition_notify(const shared_object& cv, std::uint32_t n);
[[nodiscard]] std::chrono::steady_clock::time_point condition_deadline(
  std::chrono::steady_clock::duration timeout) noexcept;

} // namespace detail

/// What basic_condition::wait() did. In every case the caller holds the lock again.
enum class wait_result : std::uint8_t {
  notified,   ///< Woken by a notify, or spuriously: re-check the predicate.
  timeout,    ///< The timeout passed first.
  owner_died, ///< Woken or timed out, and the lock's previous holder died holding it: the data it
              ///< guards may be half-updated. Check it, then re-check the predicate.
};

[[nodiscard]] std::string_view to_string(wait_result r) noexcept;

/// A condition variable shared by processes, as `multiprocessing.Condition`, over a lock or an
/// rlock (the default, as in Python). Use the alias `condition` (over an rlock) or
/// `basic_condition<lock>`.
///
/// wait() releases the lock (every level of an rlock), sleeps until a notify or the timeout, and
/// takes the lock again (as many levels) before it returns. Waiting without holding the lock is
/// misuse. Call notify() and notify_all() holding the lock, as Python requires: a notify outside
/// the lock may come before a waiter's snapshot and miss it.
///
/// A notify advances a sequence number (a futex word) and wakes up to n sleepers; nobody counts
/// waiters. Wake-ups may be spurious, as for any condition variable: always wait in a loop around
/// the predicate, or use wait_for().
///
/// Crash at the worst moment:
/// - a process killed while waiting (or holding the lock) leaves no trace but the lock's
///   owner-died mark, which the next holder is told about (wait_result::owner_died);
/// - a process killed right after a notify woke it swallows that wake-up, but not the notify: the
///   other waiters see the sequence moved within a second (no waiter sleeps longer before it looks
///   again) and return to re-check their predicate. Nothing waits forever for a wake-up that a
///   dead process took.
///
/// An object is a handle: copies refer to the same condition (and lock). Children get it as an
/// entry argument: forked children inherit the mappings, spawn and forkserver children reopen
/// them. The lock's guarantees (release/acquire ordering) carry the data from notifier to waiter.
/// @note Thread-safe. Operations on a moved-from object throw shm_error(misuse).
template <class Lock>
class basic_condition {
 public:
  using duration = std::chrono::steady_clock::duration;
  using lock_type = Lock;

  /// A new condition over a new lock.
  basic_condition() : basic_condition(Lock{}) {}

  /// A new condition over `l` (a handle: the condition shares that very lock).
  explicit basic_condition(Lock l) : lock_(std::move(l)), cv_(detail::condition_create()) {}

  /// Maps the condition of `handle` over `l` (which must be the lock it was made with).
  [[nodiscard]] static basic_condition open(const segment_handle& handle, Lock l) {
    return basic_condition{std::move(l), detail::condition_open(handle)};
  }

  /// The underlying lock, as Python's acquire()/release() on the condition.
  acquire_result acquire() { return lock_.acquire(); }
  acquire_result acquire(duration timeout) { return lock_.acquire(timeout); }
  void release() { lock_.release(); }
  [[nodiscard]] Lock& get_lock() noexcept { return lock_; }

  /// Waits for a notify, without limit. See wait(duration).
  wait_result wait() { return wait_until(std::nullopt); }

  /// Releases the lock, waits for a notify at most `timeout`, takes the lock again (without limit,
  /// as Python does). Throws shm_error(misuse) if the calling thread does not hold the lock.
  wait_result wait(duration timeout) { return wait_until(detail::condition_deadline(timeout)); }

  /// Waits until `pred()` (called holding the lock) is true; returns true. See wait_for(pred, t).
  template <class Predicate>
  bool wait_for(Predicate pred) {
    while (!pred())
      wait_until(std::nullopt);
    return true;
  }

  /// Waits until `pred()` is true or `timeout` has passed; returns the last value of pred(), as
  /// Python's wait_for. An owner-died mark met on the way is not reported: use wait() to see it.
  template <class Predicate>
  bool wait_for(Predicate pred, duration timeout) {
    auto until = detail::condition_deadline(timeout);
    while (!pred()) {
      if (wait_until(until) == wait_result::timeout)
        return pred();
    }
    return true;
  }

  /// Wakes up to `n` waiters (more may wake: spurious wake-ups are allowed).
  void notify(std::uint32_t n = 1) { detail::condition_notify(cv_, n); }

  /// Wakes every waiter.
  void notify_all() { detail::condition_notify(cv_, 0x7fffffff); }

  /// The condition's own segment; inspect() sends it with the lock.
  [[nodiscard]] segment_handle handle() const { return cv_.handle("condition"); }

  friend bool operator==(const basic_condition&, const basic_condition&) noexcept = default;

 private:
  basic_condition(Lock l, detail::shared_object cv) noexcept
    : lock_(std::move(l)), cv_(std::move(cv)) {}

  wait_result wait_until(std::optional<std::chrono::steady_clock::time_point> until) {
    // The snapshot is taken holding the lock: a notify that follows it (under the lock) moves the
    // sequence before this waiter can miss it.
    std::uint32_t seen = detail::condition_sequence(cv_);
    unsigned levels = release_all();
    bool in_time = detail::condition_sleep(cv_, seen, until);
    acquire_result first = lock_.acquire();
    for (unsigned i = 1; i < levels; ++i)
      lock_.acquire();
    if (first == acquire_result::acquired_owner_died)
      return wait_result::owner_died;
    return in_time ? wait_result::notified : wait_result::timeout;
  }

  /// Releases every level the calling thread holds; throws misuse if it holds none.
  unsigned release_all() {
    unsigned levels = 0;
    for (;;) {
      try {
        lock_.release();
      } catch (const shm_error& e) {
        if (e.code() != shm_errc::misuse)
          throw;
        if (levels == 0)
          throw shm_error(shm_errc::misuse,
                          "condition: wait() by a thread that does not hold the lock");
        return levels;
      }
      ++levels;
      if constexpr (std::is_same_v<Lock, lock>)
        return levels; // a plain lock has one level
    }
  }

  Lock lock_;
  detail::shared_object cv_;
};

using condition = basic_condition<rlock>;

/// Sends a condition to a spawn or forkserver child: its lock, then its own segment's handle.
template <class Inspector, class Lock>
typename Inspector::result_type inspect(Inspector& f, basic_condition<Lock>& x) {
  Lock l = x.get_lock();
  segment_handle h = x.handle();
  auto reopen = [&]() -> caf::error {
    x = basic_condition<Lock>::open(h, l);
    return caf::none;
  };
  return f(caf::meta::type_name("proctor::condition"), l, h, caf::meta::load_callback(reopen));
}

} // namespace proctor
