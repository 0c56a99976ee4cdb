#pragma once

#include "proctor/queue.hpp"

namespace proctor {

/// The plainest queue, as `multiprocessing.SimpleQueue`: put, get, empty, close. put and get
/// wait as long as it takes; use queue for timeouts and bounds.
template <serializable T>
class simple_queue {
 public:
  simple_queue() = default;

  [[nodiscard]] static simple_queue open(const segment_handle& handle) {
    return simple_queue{queue<T>::open(handle)};
  }
  [[nodiscard]] static simple_queue blank() { return simple_queue{queue<T>::blank()}; }

  expected<void, queue_errc> put(const T& item) { return q_.put(item); }
  expected<T, queue_errc> get() { return q_.get(); }
  [[nodiscard]] bool empty() const { return q_.empty(); }
  void close() { q_.close(); }
  [[nodiscard]] segment_handle handle() const { return q_.handle(); }

 private:
  explicit simple_queue(queue<T> q) : q_(std::move(q)) {}

  queue<T> q_;

  template <class Inspector, class U>
  friend typename Inspector::result_type inspect(Inspector& f, simple_queue<U>& x);
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, simple_queue<T>& x) {
  return inspect(f, x.q_);
}

} // namespace proctor
