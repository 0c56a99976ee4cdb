#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace proctor {

/// A value or an error code: what a fallible operation at a module boundary returns (the queue's
/// get and put, say), so that the caller decides what happens next. A small stand-in for C++23's
/// std::expected; `E` is a module's error enum.
template <class T, class E>
class expected {
 public:
  using value_type = T;
  using error_type = E;

  expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  expected(E error) : state_(std::in_place_index<1>, error) {}

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// @pre has_value()
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  /// By value, so that `for (auto& x : *f())` keeps the result alive through the loop.
  [[nodiscard]] T value() && { return std::get<0>(std::move(state_)); }
  [[nodiscard]] T& operator*() & { return value(); }
  [[nodiscard]] const T& operator*() const& { return value(); }
  [[nodiscard]] T operator*() && { return std::move(*this).value(); }
  [[nodiscard]] T* operator->() { return &value(); }
  [[nodiscard]] const T* operator->() const { return &value(); }

  /// @pre !has_value()
  [[nodiscard]] E error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

/// The result of an operation that yields nothing but may fail.
template <class E>
class expected<void, E> {
 public:
  expected() noexcept = default;
  expected(E error) noexcept : failed_(true), error_(error) {}

  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  /// @pre !has_value()
  [[nodiscard]] E error() const noexcept { return error_; }

 private:
  bool failed_ = false;
  E error_{};
};

} // namespace proctor
