#pragma once

#include <optional>

#include "proctor/detail/shared_payload.hpp"
#include "proctor/lock.hpp"
#include "proctor/no_lock.hpp"

namespace proctor {

/// One T in shared memory, as `multiprocessing.Value`, with a lock (an rlock by default, as in
/// Python; or a given lock; or none with `no_lock`).
///
/// get() and set() each take the lock for the copy. A read-modify-write needs the lock around it:
///
///     proctor::lock_guard hold{counter.get_lock()};
///     counter.get_obj() += 1;   // or counter.set(counter.get() + 1) with an rlock
///
/// With a plain `lock`, get() and set() while holding it are refused (shm_error(misuse): the lock
/// is not recursive); use get_obj() there. Without a lock, get() and set() are single atomic
/// instructions when T fits one, and plain (possibly torn) copies otherwise.
///
/// T is trivially copyable and holds no pointers (checked where it can be: T itself is no pointer).
/// An object is a handle: copies share the memory and the lock, and the creator's last copy unlinks
/// the segments. Children get it as an entry argument: forked children inherit the mappings, spawn
/// and forkserver children reopen them. A process killed while holding the lock leaves the value
/// as it was at that instant; the next holder is told through the lock (lock_guard::owner_died()),
/// get() and set() do not report it.
/// @note Thread-safe as far as the lock makes it. Operations on a moved-from object throw
///       shm_error(misuse).
template <class T, class Lock = rlock>
class value {
 public:
  using value_type = T;
  using lock_type = Lock;

  /// T{} with a new lock.
  value() : value(T{}) {}

  /// `initial` with a new lock.
  explicit value(const T& initial) : payload_(&initial, Lock{}) {}

  /// `initial` guarded by `l` (a handle: several values may share one lock).
  value(const T& initial, Lock l) : payload_(&initial, std::move(l)) {}

  /// `initial` without a lock: get_lock() throws shm_error(misuse).
  value(const T& initial, no_lock_t) : payload_(&initial, std::nullopt) {}

  /// A copy of the value, read under the lock.
  [[nodiscard]] T get() { return payload_.load(0); }

  /// Replaces the value under the lock.
  void set(const T& x) { payload_.store(0, x); }

  /// The lock. Throws shm_error(misuse) for a value made with no_lock.
  [[nodiscard]] Lock& get_lock() { return payload_.get_lock(); }

  [[nodiscard]] bool has_lock() const noexcept { return payload_.has_lock(); }

  /// The shared T itself, without any locking, as Python's get_obj().
  [[nodiscard]] T& get_obj() const { return *payload_.data(); }

  friend bool operator==(const value&, const value&) noexcept = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, value& x) {
    return x.payload_.inspect_with(f, "proctor::value");
  }

 private:
  detail::shared_payload<T, 1, Lock> payload_;
};

} // namespace proctor
