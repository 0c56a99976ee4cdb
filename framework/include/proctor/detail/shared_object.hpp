#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "proctor/shared_segment.hpp"

namespace proctor::detail {

/// The process-local side of one synchronization object (semaphore, event, condition, barrier,
/// value, array) that lives in a segment of its own. The segment starts with a 32-bit magic word
/// naming the kind of object, written last by the creator (release) and checked by open(), so that
/// a handle of one kind is never mapped as another.
///
/// Copies share the segment; in the creating process the last copy unlinks it (shared_segment's
/// ownership rules). A moved-from or default-constructed object is empty: get() throws
/// shm_error(misuse).
/// @note Not thread-safe itself (like a shared_ptr); the memory it maps is shared.
class shared_object {
 public:
  shared_object() noexcept = default;
  shared_object(const shared_object&) = default;
  shared_object& operator=(const shared_object&) = default;
  shared_object(shared_object&& other) noexcept
    : segment_(std::move(other.segment_)), data_(std::exchange(other.data_, nullptr)) {}
  shared_object& operator=(shared_object&& other) noexcept {
    segment_ = std::move(other.segment_);
    data_ = std::exchange(other.data_, nullptr);
    return *this;
  }

  /// A new zero-filled segment of `size` bytes (at least 4), not yet published.
  [[nodiscard]] static shared_object create(std::size_t size);

  /// Maps the segment of `handle` and checks that it holds `size` bytes and a published `magic`.
  /// Throws shm_error: `invalid` for a handle of something else (the message names `what`),
  /// `not_found` once its creator dropped it.
  [[nodiscard]] static shared_object open(const segment_handle& handle, std::size_t size,
                                          std::uint32_t magic, std::string_view what);

  /// Makes the object openable: stores `magic` into the first word (release), after the creator
  /// initialized the rest.
  void publish(std::uint32_t magic) const noexcept;

  /// The mapped object. Throws shm_error(misuse) naming `what` when empty.
  [[nodiscard]] void* get(std::string_view what) const;

  /// What another process passes to open(). Throws shm_error(misuse) naming `what` when empty.
  [[nodiscard]] segment_handle handle(std::string_view what) const;

  [[nodiscard]] explicit operator bool() const noexcept { return data_ != nullptr; }

  /// See shared_segment::dont_fork().
  void dont_fork() const noexcept {
    if (segment_)
      segment_->dont_fork();
  }

  /// See shared_segment::unlink(): the name goes now, the mapping stays while a copy holds it.
  void unlink() const noexcept {
    if (segment_)
      segment_->unlink();
  }

  friend bool operator==(const shared_object& a, const shared_object& b) noexcept {
    return a.data_ == b.data_;
  }

 private:
  shared_object(std::shared_ptr<shared_segment> segment, void* data) noexcept
    : segment_(std::move(segment)), data_(data) {}

  std::shared_ptr<shared_segment> segment_;
  void* data_ = nullptr; ///< In segment_'s mapping.
};

} // namespace proctor::detail
