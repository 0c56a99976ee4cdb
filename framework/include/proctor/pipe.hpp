#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "proctor/detail/pipe_ends.hpp"
#include "proctor/queue.hpp"

namespace proctor {

/// One end of a pipe, as the Connection objects of `multiprocessing.Pipe()`: send() and recv()
/// whole messages of type T (an empty message is a message), poll() for one, close().
///
/// End of file: recv() returns `closed` once the other end is gone — closed by every process
/// that held it, or held only by processes that died — and every message it sent was read.
/// send() returns `closed` when nobody can read any more.
///
/// A process holds an end from the moment it creates or receives it (a forked child: from its
/// first use) until close() or its death. As with Python, a parent passes an end to a child and
/// closes its own copy, so that the child's death reads as end of file.
/// @note Messages travel in two queues of shared memory (one per direction); a connection object
///       is thread-safe like them.
class waitable;

template <serializable T = std::string>
class connection {
 public:
  using duration = std::chrono::steady_clock::duration;
  using result = expected<T, queue_errc>;
  using status = expected<void, queue_errc>;

  /// Sends one message; `closed` if the other end is gone, `too_large` if it can never fit.
  status send(const T& message) {
    touch();
    if (!out_)
      return queue_errc::closed;
    for (bool first = true;; first = false) {
      // Whether the peer still lives is read from /proc: not on every message, but at least
      // every liveness_interval, and whenever the pipe is full.
      auto now = coarse_now();
      if (now - peer_checked_ >= liveness_interval) {
        if (!ends_->held(1 - side_))
          return queue_errc::closed;
        peer_checked_ = now;
      }
      // First without waiting for room, which needs no deadline (nor the clock to make one).
      auto sent = first ? out_->put_nowait(message) : out_->put(message, poll_slice);
      if (sent || sent.error() != queue_errc::full)
        return sent;
      peer_checked_ = {};
    }
  }

  /// Receives the next message, waiting as long as it takes; `closed` at end of file.
  result recv() { return recv_until(std::nullopt); }

  /// Receives the next message, waiting at most `timeout` (`empty` after that).
  result recv(duration timeout) { return recv_until(std::chrono::steady_clock::now() + timeout); }

  /// True if recv() would not wait: a message is there, or end of file is.
  bool poll(duration timeout = duration::zero()) {
    touch();
    if (!in_)
      return false;
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto slice = std::min(until, std::chrono::steady_clock::now() + poll_slice);
      if (in_->ring_wait(slice) || !ends_->held(1 - side_))
        return true;
      if (std::chrono::steady_clock::now() >= until)
        return false;
    }
  }

  /// This process lets go of its end. When no live process holds it any more, the other end reads
  /// end of file after the messages already sent.
  void close() {
    if (!ends_ || closed_)
      return;
    closed_ = true;
    ends_->leave(side_);
    if (!ends_->held(side_)) {
      if (out_)
        out_->close();
      if (in_)
        in_->close();
    }
  }

  [[nodiscard]] bool readable() const noexcept { return in_.has_value(); }
  [[nodiscard]] bool writable() const noexcept { return out_.has_value(); }

  [[nodiscard]] static connection blank() { return connection{}; }

 private:
  friend class waitable;

  static constexpr auto poll_slice = std::chrono::milliseconds(100);
  static constexpr auto liveness_interval = std::chrono::milliseconds(10);

  /// A queue with the one thing a pipe needs beyond it: waiting for data without taking it.
  class lane : public queue<T> {
   public:
    explicit lane(queue<T> q) : queue<T>(std::move(q)) {}
    bool ring_wait(std::chrono::steady_clock::time_point until) {
      return this->ring_.wait_nonempty(until);
    }
    [[nodiscard]] const detail::ring& ring() const noexcept { return this->ring_; }
  };

  /// The monotonic clock to a few milliseconds, at a fraction of its cost: for liveness_interval.
  static std::chrono::steady_clock::time_point coarse_now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); // steady_clock's clock, at tick resolution
    return std::chrono::steady_clock::time_point{std::chrono::seconds{ts.tv_sec}
                                                 + std::chrono::nanoseconds{ts.tv_nsec}};
  }

  connection() = default;
  connection(std::optional<queue<T>> in, std::optional<queue<T>> out,
             std::shared_ptr<detail::pipe_ends> ends, int side)
    : ends_(std::move(ends)), side_(side) {
    if (in)
      in_.emplace(std::move(*in));
    if (out)
      out_.emplace(std::move(*out));
    joined_by_ = detail::pipe_ends::current_pid();
    detail::pipe_ends::join_all({{ends_, side_}});
  }

  /// A forked child holds its inherited copy from its first use on.
  void touch() {
    auto self = detail::pipe_ends::current_pid();
    if (joined_by_ != self && !closed_) {
      joined_by_ = self;
      detail::pipe_ends::join_all({{ends_, side_}});
    }
  }

  result recv_until(std::optional<std::chrono::steady_clock::time_point> until) {
    touch();
    if (!in_)
      return queue_errc::closed;
    // First without waiting, which reads no clock: a message that is there is taken at once.
    if (auto got = in_->get_nowait(); got || got.error() != queue_errc::empty)
      return got;
    for (;;) {
      auto slice = std::chrono::steady_clock::now() + poll_slice;
      if (until && *until < slice)
        slice = *until;
      auto got = in_->get(slice - std::chrono::steady_clock::now());
      if (got || got.error() != queue_errc::empty)
        return got;
      // Nothing came: end of file if the other end is gone (and what it sent is read).
      if (!ends_->held(1 - side_)) {
        auto last = in_->get_nowait();
        return last || last.error() != queue_errc::empty ? last : result{queue_errc::closed};
      }
      if (until && std::chrono::steady_clock::now() >= *until)
        return queue_errc::empty;
    }
  }

  std::optional<lane> in_;
  std::optional<lane> out_;
  std::shared_ptr<detail::pipe_ends> ends_;
  int side_ = 0;
  pid_t joined_by_ = 0;
  bool closed_ = false;
  std::chrono::steady_clock::time_point peer_checked_{};

  template <class U>
  friend std::pair<connection<U>, connection<U>> pipe(bool duplex);
  template <class Inspector, class U>
  friend typename Inspector::result_type inspect(Inspector& f, connection<U>& x);
};

/// Two connected ends, as `multiprocessing.Pipe(duplex)`. Duplex: both ends send and receive.
/// One-way: the first end only receives, the second only sends.
template <class T = std::string>
std::pair<connection<T>, connection<T>> pipe(bool duplex = true) {
  auto ends = detail::pipe_ends::create();
  queue<T> a_to_b, b_to_a = duplex ? queue<T>{} : queue<T>::blank();
  if (duplex)
    return {connection<T>{a_to_b, b_to_a, ends, 0}, connection<T>{b_to_a, a_to_b, ends, 1}};
  return {connection<T>{a_to_b, std::nullopt, ends, 0},
          connection<T>{std::nullopt, a_to_b, ends, 1}};
}

/// Sends an end to a spawn or forkserver child: the handles of its queues and of the holders'
/// table; the child maps them and joins the end.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, connection<T>& x) {
  segment_handle in = x.in_ ? x.in_->handle() : segment_handle{};
  segment_handle out = x.out_ ? x.out_->handle() : segment_handle{};
  segment_handle ends = x.ends_ ? x.ends_->handle() : segment_handle{};
  int side = x.side_;
  if constexpr (Inspector::reads_state) {
    if (auto* noted = detail::pipe_ends::collector(); noted != nullptr && x.ends_)
      noted->emplace_back(x.ends_, side);
  }
  auto reopen = [&]() -> caf::error {
    std::optional<queue<T>> qin, qout;
    if (!in.name.empty())
      qin = queue<T>::open(in);
    if (!out.name.empty())
      qout = queue<T>::open(out);
    x = connection<T>{std::move(qin), std::move(qout), detail::pipe_ends::open(ends), side};
    return caf::none;
  };
  return f(caf::meta::type_name("proctor::connection"), in, out, ends, side,
           caf::meta::load_callback(reopen));
}

} // namespace proctor
