#pragma once

#include <chrono>

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
  explicit joinable_queue(options opts) : queue<T>(opts) { this->ring_.count_tasks(true); }

  [[nodiscard]] static joinable_queue open(const segment_handle& handle) {
    return joinable_queue{queue<T>::open(handle)};
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
  explicit joinable_queue(queue<T> base) : queue<T>(std::move(base)) {}
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, joinable_queue<T>& x) {
  return inspect(f, static_cast<queue<T>&>(x));
}

} // namespace proctor
