#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>


#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/detail/item_codec.hpp"
#include "proctor/detail/ring.hpp"
#include "proctor/expected.hpp"
#include "proctor/process_error.hpp"
#include "proctor/queue_errc.hpp"
#include "proctor/serializable.hpp"
#include "proctor/shared_segment.hpp"

namespace proctor {

/// A bounded FIFO queue between processes, as Python's `multiprocessing.Queue`: any number of
/// processes put and get; items are copied into shared memory (no feeder thread, so joining a
/// process never waits for a queue to drain).
///
/// Copies of a queue object refer to the same queue. A forked child inherits it; a spawn or
/// forkserver child receives it as an entry argument and maps it again. The queue lives until the
/// creating process drops its last copy (its name is unlinked then; processes that mapped it keep
/// using it).
///
/// Items: strings and byte vectors are copied as they are, other trivially copyable types byte for
/// byte, everything else through its CAF `inspect` overload. Operations return errors as values:
/// `empty` and `full` on timeout (Python's queue.Empty and queue.Full), `closed`, `too_large`,
/// `serialization`, `corrupt`. A crash of another process at any instruction leaves the queue
/// usable, each committed item delivered once.
///
/// Waiting: a get spins briefly, then sleeps. A getter that keeps finding items the moment it
/// looks, having caught up with a stream of puts, waits about a microsecond or two before it looks
/// again (not in get_nowait), so that it takes them in batches rather than one by one from
/// under the putter's stores (a stream of small items moves about 1.4 times as fast).
/// @note Thread-safe and process-safe. Every blocking call has a timeout variant.
class waitable;

template <serializable T>
class queue {
 public:
  using duration = std::chrono::steady_clock::duration;
  using result = expected<T, queue_errc>;
  using status = expected<void, queue_errc>;

  struct options {
    std::size_t maxsize = 0;               ///< At most this many items (0: no count limit).
    std::size_t capacity_bytes = 1 << 20;  ///< Shared memory for the items' bytes.
  };

  /// A new queue, as `Queue()`.
  queue() : queue(options{}) {}

  /// A new queue of at most `maxsize` items, as `Queue(maxsize)`.
  explicit queue(std::size_t maxsize) : queue(options{maxsize}) {}

  explicit queue(options opts) : queue(opts, detail::item_type_tag<T>()) {}

  /// Maps the queue named by `handle` (made by another process); throws shm_error if it is not a
  /// queue of T.
  [[nodiscard]] static queue open(const segment_handle& handle) {
    return queue{detail::ring::open(handle, detail::item_type_tag<T>())};
  }

  /// An object that refers to no queue yet: what a received queue is decoded into.
  [[nodiscard]] static queue blank() { return queue{detail::ring{}}; }

  /// Puts `item`, waiting for room as long as it takes.
  status put(const T& item) { return put_until(item, std::nullopt); }

  /// Puts `item`, waiting at most `timeout` for room (`full` after that).
  status put(const T& item, duration timeout) {
    return put_until(item, std::chrono::steady_clock::now() + timeout);
  }

  /// Puts `item` only if there is room now.
  status put_nowait(const T& item) { return put_until(item, now_or_never); }

  /// Removes and returns the oldest item, waiting as long as it takes.
  result get() { return get_until(std::nullopt); }

  /// Removes and returns the oldest item, waiting at most `timeout` (`empty` after that).
  result get(duration timeout) { return get_until(std::chrono::steady_clock::now() + timeout); }

  /// Removes and returns the oldest item only if there is one now.
  result get_nowait() { return get_until(now_or_never); }

  /// The number of items now (others may change it at once, as in Python).
  [[nodiscard]] std::size_t size() const { return ring_.size(); }
  [[nodiscard]] bool empty() const { return ring_.empty(); }
  /// True when maxsize items are in (byte capacity is not counted: a put may still wait for it).
  [[nodiscard]] bool full() const { return ring_.max_items() != 0 && size() >= ring_.max_items(); }

  /// No more puts (they fail with `closed`); gets drain what is in, then fail with `closed`.
  /// Wakes every waiter.
  void close() { ring_.close(); }
  [[nodiscard]] bool closed() const { return ring_.closed(); }

  /// The largest item, in bytes as it travels, that fits.
  [[nodiscard]] std::size_t max_item_bytes() const { return ring_.max_record(); }

  /// What another process passes to open().
  [[nodiscard]] segment_handle handle() const { return ring_.handle(); }

 protected:
  /// A deadline already past that needs no clock read: try once, wait for nothing (the ring
  /// still gives a busy lock a moment).
  static constexpr std::chrono::steady_clock::time_point now_or_never{};

  explicit queue(detail::ring r) : ring_(std::move(r)) {}
  queue(options opts, std::uint64_t type_tag)
    : ring_(detail::ring::create(opts.capacity_bytes, opts.maxsize, type_tag, true)) {}

  status put_until(const T& item, const detail::ring::deadline& until) {
    thread_local std::vector<char> scratch;
    std::string_view bytes;
    try {
      bytes = detail::item_bytes(item, scratch);
    } catch (const process_error&) {
      return queue_errc::serialization;
    }
    if (auto err = ring_.put(bytes.data(), bytes.size(), until))
      return *err;
    return {};
  }

  result get_until(const detail::ring::deadline& until) {
    std::optional<T> out;
    try {
      auto err = ring_.get(
        [](void* context, const std::byte* data, std::size_t size) {
          auto& slot = *static_cast<std::optional<T>*>(context);
          slot.emplace(detail::blank_value<T>());
          detail::decode_item(data, size, *slot);
        },
        &out, until);
      if (err)
        return *err;
    } catch (const std::exception&) { // a record that does not decode (or cannot be held)
      return queue_errc::serialization;
    }
    return std::move(*out);
  }

  detail::ring ring_;

  template <class Inspector, class U>
  friend typename Inspector::result_type inspect(Inspector& f, queue<U>& x);
  template <serializable U>
  friend class joinable_queue;
  friend class waitable;
};

/// Sends a queue to a spawn or forkserver child as its segment's handle; the child maps it.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, queue<T>& x) {
  return detail::inspect_by_handle(f, x, "proctor::queue",
                                   x.ring_.valid() ? x.handle() : segment_handle{});
}

} // namespace proctor
