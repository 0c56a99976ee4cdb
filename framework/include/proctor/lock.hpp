#pragma once

#include <chrono>

#include <caf/none.hpp>

#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/acquire_result.hpp"
#include "proctor/detail/robust_mutex.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor {

/// A lock shared by processes, as `multiprocessing.Lock` (basic_lock<plain>) and `RLock`
/// (basic_lock<recursive>). Use the aliases `lock` and `rlock`.
///
/// It is robust: when a process (or thread) dies holding it, the next acquire() takes it and says
/// so with `acquired_owner_died`, never a silent wedge. The lock is fully usable again at once; the
/// data it guards is whatever the dead holder left, possibly half-updated.
///
/// Built on a PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST pthread mutex (a futex: a waiter sleeps
/// in the kernel and uses no CPU) in a one-page shared_segment of its own. An object is a handle:
/// copies refer to the same lock. The creating process owns the segment; its name is unlinked when
/// the creator's last copy goes, so keep one until every child has started. Children get the lock
/// as an entry argument (`process p{entry<f>, l, i};`): a forked child inherits the mapping, a spawn
/// or forkserver child reopens the segment while its arguments are decoded.
///
/// The holder is a thread: only the thread that acquired the lock may release it (unlike Python's
/// Lock, which any process may release). Memory written under the lock is visible to the next
/// holder (acquire/release ordering, as for any mutex).
///
/// @note Thread-safe. Operations on a moved-from object throw shm_error(misuse).
template <detail::lock_kind Kind>
class basic_lock {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// Creates a new, free lock owned by this process. Throws shm_error if no segment can be made.
  basic_lock() : mutex_(detail::robust_mutex::create(Kind)) {}

  /// Maps the lock named by `handle` (made by basic_lock<Kind>::handle() in another process).
  /// Throws shm_error: `not_found` if its creator has dropped it, `invalid` for a handle of
  /// something else (a plain lock's handle opened as an rlock, for one).
  [[nodiscard]] static basic_lock open(const segment_handle& handle) {
    return basic_lock{detail::robust_mutex::open(handle, Kind)};
  }

  /// Takes the lock, waiting as long as it takes: `acquired` or `acquired_owner_died`.
  /// Throws shm_error(misuse) when a plain lock is acquired again by the thread holding it.
  acquire_result acquire() { return mutex_.acquire(std::nullopt); }

  /// Takes the lock, waiting at most `timeout` (zero or less: one attempt, no wait). Measured on
  /// the monotonic clock. `timeout` if another holder kept it that long.
  acquire_result acquire(duration timeout) { return mutex_.acquire(timeout); }

  /// Releases one hold. Throws shm_error(misuse) if the calling thread does not hold the lock.
  void release() { mutex_.release(); }

  /// What another process passes to open(); also how inspect() sends the lock to a child.
  [[nodiscard]] segment_handle handle() const { return mutex_.handle(); }

  friend bool operator==(const basic_lock&, const basic_lock&) noexcept = default;

 private:
  explicit basic_lock(detail::robust_mutex m) noexcept : mutex_(std::move(m)) {}

  detail::robust_mutex mutex_;
};

using lock = basic_lock<detail::lock_kind::plain>;
using rlock = basic_lock<detail::lock_kind::recursive>;

/// Sends a lock to a spawn or forkserver child as its segment's handle; the child maps it again.
/// (Default-constructing the value to load into makes a throwaway lock in the child first.)
template <class Inspector, detail::lock_kind Kind>
typename Inspector::result_type inspect(Inspector& f, basic_lock<Kind>& x) {
  return detail::inspect_by_handle(
    f, x, Kind == detail::lock_kind::plain ? "proctor::lock" : "proctor::rlock", x.handle());
}

} // namespace proctor
