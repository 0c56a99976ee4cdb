#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "proctor/acquire_result.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor::detail {

struct lock_cell;

enum class lock_kind : std::uint32_t {
  plain = 1,     ///< Acquiring it again from its holding thread is refused (misuse).
  recursive = 2, ///< Its holding thread may acquire it again; it is free after as many releases.
};

/// The process-local side of a robust, process-shared pthread mutex (futex-based) that lives in a
/// one-page segment of its own. Copies share the segment; in the creating process the last copy
/// unlinks it. Each operation's contract is the one documented on basic_lock.
class robust_mutex {
 public:
  /// Empty: every operation but assignment throws shm_error(misuse).
  robust_mutex() noexcept = default;
  robust_mutex(const robust_mutex&) = default;
  robust_mutex& operator=(const robust_mutex&) = default;
  robust_mutex(robust_mutex&& other) noexcept
    : segment_(std::move(other.segment_)), cell_(std::exchange(other.cell_, nullptr)) {}
  robust_mutex& operator=(robust_mutex&& other) noexcept {
    segment_ = std::move(other.segment_);
    cell_ = std::exchange(other.cell_, nullptr);
    return *this;
  }

  [[nodiscard]] static robust_mutex create(lock_kind kind);
  [[nodiscard]] static robust_mutex open(const segment_handle& handle, lock_kind kind);

  /// nullopt: wait without limit.
  acquire_result acquire(std::optional<std::chrono::nanoseconds> timeout);
  void release();
  [[nodiscard]] segment_handle handle() const;

  friend bool operator==(const robust_mutex& a, const robust_mutex& b) noexcept {
    return a.cell_ == b.cell_;
  }

 private:
  robust_mutex(std::shared_ptr<shared_segment> segment, lock_cell* cell) noexcept
    : segment_(std::move(segment)), cell_(cell) {}

  [[nodiscard]] lock_cell& cell() const;

  std::shared_ptr<shared_segment> segment_;
  lock_cell* cell_ = nullptr; ///< In segment_'s mapping.
};

} // namespace proctor::detail
