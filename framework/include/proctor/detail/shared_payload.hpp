#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <utility>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include "proctor/detail/shared_object.hpp"
#include "proctor/lock_guard.hpp"
#include "proctor/shm_error.hpp"

namespace proctor::detail {

// The untyped side, in shared_payload.cpp: a segment holding a header (magic, element size and
// count, checked on open) and then `count` elements aligned to `align`.
[[nodiscard]] shared_object payload_create(std::size_t element_size, std::size_t align,
                                           std::size_t count);
[[nodiscard]] shared_object payload_open(const segment_handle& handle, std::size_t element_size,
                                         std::size_t align, std::size_t count);
[[nodiscard]] void* payload_data(const shared_object& payload, std::size_t align);

/// N elements of T in a segment of their own, with an optional lock: what value and array share.
/// Copies are handles to the same memory and lock.
template <class T, std::size_t N, class Lock>
class shared_payload {
 public:
  static_assert(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>
                  && !std::is_member_pointer_v<T>,
                "shared memory holds trivially copyable values, never pointers (an address means "
                "nothing in another process)");
  static_assert(N > 0, "an array of no elements");

  /// Raw access is atomic when the hardware can load and store a T in one instruction.
  static constexpr bool atomic_raw = std::atomic_ref<T>::is_always_lock_free
                                     && std::atomic_ref<T>::required_alignment == alignof(T);

  shared_payload() = default;

  shared_payload(const T* initial, std::optional<Lock> l)
    : obj_(payload_create(sizeof(T), alignof(T), N)), lock_(std::move(l)) {
    std::memcpy(data(), initial, sizeof(T) * N);
  }

  [[nodiscard]] T* data() const { return static_cast<T*>(payload_data(obj_, alignof(T))); }

  [[nodiscard]] bool has_lock() const noexcept { return lock_.has_value(); }

  [[nodiscard]] Lock& get_lock() {
    if (!lock_)
      throw shm_error(shm_errc::misuse, "get_lock() of a value or array made with no_lock");
    return *lock_;
  }

  /// Element `i`, read under the lock if there is one.
  [[nodiscard]] T load(std::size_t i) {
    T* p = data() + i;
    if (lock_) {
      lock_guard hold{*lock_};
      return *p;
    }
    if constexpr (atomic_raw)
      return std::atomic_ref<T>{*p}.load(std::memory_order_seq_cst);
    else
      return *p;
  }

  void store(std::size_t i, const T& x) {
    T* p = data() + i;
    if (lock_) {
      lock_guard hold{*lock_};
      *p = x;
      return;
    }
    if constexpr (atomic_raw)
      std::atomic_ref<T>{*p}.store(x, std::memory_order_seq_cst);
    else
      *p = x;
  }

  [[nodiscard]] segment_handle handle() const { return obj_.handle("value or array"); }

  friend bool operator==(const shared_payload& a, const shared_payload& b) noexcept {
    return a.obj_ == b.obj_;
  }

  /// Saves or loads the payload's handle and its lock's (reopened on load).
  template <class Inspector>
  typename Inspector::result_type inspect_with(Inspector& f, const char* type_name) {
    segment_handle data_handle = obj_ ? obj_.handle("value or array") : segment_handle{};
    bool locked = lock_.has_value();
    segment_handle lock_handle = lock_ ? lock_->handle() : segment_handle{};
    auto reopen = [&]() -> caf::error {
      obj_ = payload_open(data_handle, sizeof(T), alignof(T), N);
      lock_.reset();
      if (locked)
        lock_ = Lock::open(lock_handle);
      return caf::none;
    };
    return f(caf::meta::type_name(type_name), data_handle, locked, lock_handle,
             caf::meta::load_callback(reopen));
  }

 private:
  shared_object obj_;
  std::optional<Lock> lock_;
};

} // namespace proctor::detail
