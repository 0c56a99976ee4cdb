#pragma once

#include <chrono>

#include "proctor/detail/inspect_by_handle.hpp"
#include "proctor/queue.hpp"

namespace proctor {

/// A queue whose consumers say when they finished each item, as `multiprocessing.JoinableQueue`:
/// every put counts a task, task_done() ends one, join() waits until none is left.
/// @note A process killed between taking an item and task_done() leaves its task counted:
///       join() then waits for it (use the timeout variant where workers may die).
template <serializable T>
class joinable_queue : public queue<T> {
 public:
  using typename queue<T>::options;
  using duration = typename queue<T>::duration;

  joinable_queue() : joinable_queue(options{}) {}
  explicit joinable_queue(std::size_t maxsize) : joinable_queue(options{maxsize}) {}
  explicit joinable_queue(options opts) : queue<T>(opts, type_tag()) {
    this->ring_.count_tasks(true);
  }

  /// Maps a joinable queue of T made by another process (a plain queue's handle is refused).
  [[nodiscard]] static joinable_queue open(const segment_handle& handle) {
    return joinable_queue{queue<T>{detail::ring::open(handle, type_tag())}};
  }
  [[nodiscard]] static joinable_queue blank() { return joinable_queue{queue<T>::blank()}; }

  /// Ends one task. Throws process_error(misuse) if called more often than items were put.
  void task_done() {
    if (!this->ring_.task_done())
      throw process_error(process_errc::misuse, "task_done() called more times than put()");
  }

  /// Waits until every item put has been marked done.
  void join() { this->ring_.join(std::nullopt); }

  /// Waits at most `timeout`; true if every item was marked done.
  bool join(duration timeout) {
    return this->ring_.join(std::chrono::steady_clock::now() + timeout);
  }

  /// Items put and not yet marked done.
  [[nodiscard]] std::uint64_t unfinished_tasks() const { return this->ring_.unfinished(); }

 private:
  template <class Inspector, class U>
  friend typename Inspector::result_type inspect(Inspector& f, joinable_queue<U>& x);

  explicit joinable_queue(queue<T> base) : queue<T>(std::move(base)) {}

  /// Not a plain queue's tag: a joinable queue counts tasks, a plain one does not.
  static std::uint64_t type_tag() { return detail::item_type_tag<T>() ^ 0x454c42414e494f4aull; }
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, joinable_queue<T>& x) {
  return detail::inspect_by_handle(f, x, "proctor::joinable_queue",
                                   x.ring_.valid() ? x.handle() : segment_handle{});
}

} // namespace proctor
