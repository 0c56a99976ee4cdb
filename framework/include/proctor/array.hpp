#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "proctor/detail/shared_payload.hpp"
#include "proctor/lock.hpp"
#include "proctor/lock_guard.hpp"
#include "proctor/no_lock.hpp"

namespace proctor {

/// N elements of T in shared memory, as `multiprocessing.Array`, with a lock (an rlock by default,
/// as in Python; or a given lock; or none with `no_lock`).
///
/// get(i), set(i, x), to_array() and assign() each take the lock once. A read-modify-write needs
/// the lock around it:
///
///     proctor::lock_guard hold{a.get_lock()};
///     a.get_obj()[i] += 1;
///
/// With a plain `lock`, the locking calls while holding it are refused (shm_error(misuse): the lock
/// is not recursive); use get_obj() there. Without a lock, get(i) and set(i, x) are single atomic
/// instructions when T fits one, plain (possibly torn) copies otherwise.
///
/// Handles, crossing into children and crash behaviour as for value.
/// @note Thread-safe as far as the lock makes it. Operations on a moved-from object throw
///       shm_error(misuse).
template <class T, std::size_t N, class Lock = rlock>
class array {
 public:
  using value_type = T;
  using lock_type = Lock;

  /// N value-initialized elements with a new lock.
  array() : array(std::array<T, N>{}) {}

  explicit array(const std::array<T, N>& initial) : payload_(initial.data(), Lock{}) {}
  array(const std::array<T, N>& initial, Lock l) : payload_(initial.data(), std::move(l)) {}
  array(const std::array<T, N>& initial, no_lock_t) : payload_(initial.data(), std::nullopt) {}

  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }

  /// Element `i`, read under the lock. Throws std::out_of_range for i >= N.
  [[nodiscard]] T get(std::size_t i) { return payload_.load(checked(i)); }

  /// Replaces element `i` under the lock. Throws std::out_of_range for i >= N.
  void set(std::size_t i, const T& x) { payload_.store(checked(i), x); }

  /// A copy of every element, read under the lock at once (Python's a[:]).
  [[nodiscard]] std::array<T, N> to_array() {
    std::array<T, N> out;
    with_lock([&] { std::copy_n(payload_.data(), N, out.begin()); });
    return out;
  }

  /// Replaces every element under the lock at once (Python's a[:] = ...).
  void assign(const std::array<T, N>& xs) {
    with_lock([&] { std::copy_n(xs.begin(), N, payload_.data()); });
  }

  /// The lock. Throws shm_error(misuse) for an array made with no_lock.
  [[nodiscard]] Lock& get_lock() { return payload_.get_lock(); }

  [[nodiscard]] bool has_lock() const noexcept { return payload_.has_lock(); }

  /// The shared elements themselves, without any locking, as Python's get_obj().
  [[nodiscard]] std::span<T, N> get_obj() const { return std::span<T, N>{payload_.data(), N}; }

  friend bool operator==(const array&, const array&) noexcept = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, array& x) {
    return x.payload_.inspect_with(f, "proctor::array");
  }

 private:
  static std::size_t checked(std::size_t i) {
    if (i >= N)
      throw std::out_of_range("proctor::array: index " + std::to_string(i) + " of an array of "
                              + std::to_string(N));
    return i;
  }

  template <class F>
  void with_lock(F&& f) {
    if (payload_.has_lock()) {
      lock_guard hold{payload_.get_lock()};
      f();
    } else {
      f();
    }
  }

  detail::shared_payload<T, N, Lock> payload_;
};

} // namespace proctor
