#pragma once

#include "proctor/acquire_result.hpp"
#include "proctor/lock.hpp"

namespace proctor {

/// Holds a lock or rlock for a scope, as Python's `with lock:` and the seeds' try/finally:
///
///     proctor::lock_guard hold{l};
///     if (hold.owner_died()) repair_shared_state();
///
/// With a timeout it may not hold it: check owns_lock().
/// @note Only the constructing thread may destroy it (the lock's holder is a thread).
template <class Lock>
class [[nodiscard]] lock_guard {
 public:
  explicit lock_guard(Lock& l) : lock_(&l), result_(l.acquire()) {}

  lock_guard(Lock& l, typename Lock::duration timeout) : lock_(&l), result_(l.acquire(timeout)) {}

  /// Releases the lock if held. A failure here (another thread destroyed the guard) is a contract
  /// violation and terminates.
  ~lock_guard() {
    if (owns_lock())
      lock_->release();
  }

  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

  [[nodiscard]] acquire_result result() const noexcept { return result_; }
  [[nodiscard]] bool owns_lock() const noexcept { return holds(result_); }
  /// True if the previous holder died holding the lock: the guarded data may be half-updated.
  [[nodiscard]] bool owner_died() const noexcept {
    return result_ == acquire_result::acquired_owner_died;
  }

 private:
  Lock* lock_;
  acquire_result result_;
};

} // namespace proctor
