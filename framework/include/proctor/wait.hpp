#pragma once

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "proctor/pipe.hpp"
#include "proctor/process.hpp"
#include "proctor/queue.hpp"

namespace proctor {

/// Something wait() can wait for, as the objects `multiprocessing.connection.wait()` accepts: the
/// receiving side of a connection, a queue (Python: its `_reader`), a process, or a file
/// descriptor. It refers to its object, which must outlive the wait.
class waitable {
 public:
  /// Ready when recv() would not wait: a message is there, or end of file is.
  /// Throws std::invalid_argument for an end that was closed or cannot receive.
  template <class T>
  waitable(connection<T>& end); // NOLINT(google-explicit-constructor): wait({a, b, p})

  /// Ready when get() would not wait: an item is there, or the queue is closed.
  template <class T>
  waitable(queue<T>& q) : ring_(&q.ring_) {} // NOLINT(google-explicit-constructor)

  /// Ready once the process has ended, as its sentinel() says (see there: after a join(), a
  /// child the zygote started reads as ready again only a moment later). Throws process_error as
  /// sentinel() does.
  waitable(const process& p); // NOLINT(google-explicit-constructor)

  /// Ready when `fd` is readable, or at its end or an error, as poll() says.
  [[nodiscard]] static waitable descriptor(int fd);

 private:
  waitable() = default;
  friend std::vector<std::size_t> wait(std::span<const waitable> objects,
                                       std::optional<std::chrono::steady_clock::duration> timeout);

  const detail::ring* ring_ = nullptr;            ///< a queue, or a connection's incoming side
  std::shared_ptr<const detail::pipe_ends> ends_; ///< a connection's: is its other end held?
  int other_side_ = 0;
  int fd_ = -1;                                   ///< a process's sentinel, or a descriptor
};

/// As `multiprocessing.connection.wait()`: waits until at least one of `objects` is ready, or
/// `timeout` passed (none: as long as it takes; zero: only looks). Returns the positions of the
/// ready ones in `objects`, in order; empty once the timeout passed.
///
/// Connections and queues are waited for on their futex words (at most 128 of them in one call):
/// a message, an item or a close wakes the wait at once. (Meanwhile a put on one of them wakes
/// every sleeper, getters included, not one: ready does not mean that the caller gets the item.)
/// A peer that dies without closing its end reads as end of file within 100 ms, as in
/// connection::poll(). Processes and descriptors waited for together with connections or queues
/// are looked at every 10 ms; alone, they are waited for in poll().
/// Throws std::invalid_argument for more than 128 connections and queues, and for nothing to
/// wait for without a timeout (which would never return; with one, the wait sleeps it out).
std::vector<std::size_t> wait(
  std::span<const waitable> objects,
  std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt);

inline std::vector<std::size_t> wait(
  std::initializer_list<waitable> objects,
  std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
  return wait(std::span<const waitable>{objects.begin(), objects.size()}, timeout);
}

template <class T>
waitable::waitable(connection<T>& end) {
  end.touch();
  if (end.closed_ || !end.in_ || !end.ends_)
    throw std::invalid_argument(
      "proctor::wait: a connection end that cannot receive (closed, or the sending end of a "
      "one-way pipe)");
  ring_ = &end.in_->ring();
  ends_ = end.ends_;
  other_side_ = 1 - end.side_;
}

} // namespace proctor
