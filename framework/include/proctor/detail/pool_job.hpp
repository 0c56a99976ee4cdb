#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proctor/task.hpp"

namespace proctor::detail {

/// One result as a worker writes it (in its slab, and in the messages that carry the slab to
/// the pool): this header, then `size` bytes — the encoded value, or a message.
///
/// A `values` entry holds the results of consecutive tasks from `position` on, each `stride`
/// bytes: a map of small values then costs a few bytes a task. A worker that dies while it adds
/// to the last run may leave `size` ahead of what it committed: the reader counts only whole
/// values within the bytes it was given.
struct result_header {
  std::uint32_t position; ///< The task's place in its chunk (the first task's, for `values`).
  std::uint32_t size;
  std::uint8_t status;    ///< A task_status.
  std::uint8_t stride;    ///< For `values`: the size of each.
  std::uint8_t reserved[2];
};
static_assert(sizeof(result_header) == 12);

/// One call to a pool — a map, an apply, a submit — shared by the caller, who waits for its
/// outcomes, and the pool's thread, which runs it. Outcomes are written once and never change, so
/// one that a wait returned may be read without the lock.
class pool_job {
 public:
  using clock = std::chrono::steady_clock;
  using deadline = std::optional<clock::time_point>;

  /// `args` holds every task's encoded arguments, each behind its length (4 bytes), as
  /// task_t::encode_into writes them; `offsets` says where each task's length starts.
  pool_job(std::string key, std::string args, std::vector<std::uint64_t> offsets,
           std::size_t chunksize);
  /// The same for `count` tasks of `stride` framed bytes each.
  pool_job(std::string key, std::string args, std::size_t count, std::size_t stride,
           std::size_t chunksize);

  pool_job(const pool_job&) = delete;
  pool_job& operator=(const pool_job&) = delete;

  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  [[nodiscard]] std::size_t chunksize() const noexcept { return chunksize_; }
  /// Task `i`'s arguments with their length in front, as a worker reads them.
  [[nodiscard]] std::string_view framed_args(std::size_t i) const noexcept;
  /// Tasks [first, last) framed, one after the other.
  [[nodiscard]] std::string_view framed_range(std::size_t first, std::size_t last) const noexcept;

  /// Called on the pool's thread after each batch of outcomes: (done, total).
  std::function<void(std::size_t, std::size_t)> progress;
  /// What the task's callable carries to the workers (task_state()); set before submission.
  std::string state;

  // ---- the caller's side

  /// Waits until every task has an outcome; false if `until` passed first.
  bool wait_all(deadline until) const;
  /// Waits until every task has an outcome and the progress callback has seen the last of them
  /// (what a blocking map returns after); false if `until` passed first.
  bool wait_settled(deadline until) const;
  /// Waits for the outcome of task `i`; false if `until` passed first.
  bool wait_for(std::size_t i, deadline until) const;
  /// Waits for the `n`-th task to complete (in completion order) and returns its index; empty if
  /// `until` passed first.
  std::optional<std::size_t> wait_completed(std::size_t n, deadline until) const;
  /// The error of task `i`, or nullptr if it succeeded. @pre a wait saw its outcome.
  [[nodiscard]] const task_error* error(std::size_t i) const noexcept {
    return slots_[i].state == failed ? static_cast<const task_error*>(slots_[i].data) : nullptr;
  }
  /// The encoded result of task `i`. @pre a wait saw its outcome, and error(i) is nullptr.
  [[nodiscard]] std::string_view result(std::size_t i) const noexcept {
    return {static_cast<const char*>(slots_[i].data), slots_[i].size};
  }
  /// The first failed task's error (by index), or nullptr. @pre wait_all() returned true.
  [[nodiscard]] const task_error* first_error() const noexcept;

  [[nodiscard]] bool done() const;
  [[nodiscard]] bool running() const;
  [[nodiscard]] bool cancelled() const;
  /// Cancels a job no worker has started: every task fails with `cancelled`. False once started.
  bool cancel();
  /// Runs `fn` once the job is done: at once, here, if it already is; else on the pool's thread.
  void when_done(std::function<void()> fn);

  // ---- the pool's side

  /// What record() made of a block of results.
  struct recorded {
    std::size_t count = 0;  ///< Outcomes recorded (a task that had one already does not count).
    bool well_formed = true; ///< False if the block held a malformed entry (nothing after it counts).
  };
  /// Records the results in `block` (result_header entries, as a worker writes them) for the
  /// chunk whose tasks are `tasks` (an entry's position indexes it). The first outcome of a task
  /// counts, later ones are ignored. Every entry is checked: a worker may be buggy or hostile.
  /// `from_slab`: the block was read from a dead worker's slab, whose last run of values may be
  /// cut short by its death; anywhere else that is malformed.
  recorded record(std::string block, const std::vector<std::size_t>& tasks, bool from_slab);
  /// Records a failure of task `i` (ignored if it has an outcome already).
  void fail(std::size_t i, task_error error);
  /// Fails every task without an outcome yet with `code`.
  void fail_rest(task_errc code, const std::string& message);
  /// Marks the job started unless it was cancelled (false then).
  bool start();
  /// Runs the progress and done callbacks for what was recorded since the last call.
  void notify();
  [[nodiscard]] bool has_outcome(std::size_t i) const;
  /// How often task `i` was charged for its worker's death (the pool's thread only).
  unsigned& attempts(std::size_t i) { return attempts_[i]; }

 private:
  static constexpr std::uint8_t empty = 0, succeeded = 1, failed = 2;
  struct slot {
    const void* data = nullptr;  ///< The result's bytes, or a task_error.
    std::uint32_t size = 0;
    std::uint8_t state = empty;
  };

  bool fail_locked(std::size_t i, task_error&& error);

  std::string key_;
  std::string args_;
  std::vector<std::uint64_t> offsets_; ///< Empty when every task takes stride_ bytes.
  std::size_t stride_ = 0;
  std::size_t chunksize_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<slot> slots_;
  std::deque<std::string> blocks_;                   ///< push_back keeps references valid.
  std::deque<task_error> errors_;                    ///< push_back keeps references valid.
  std::vector<std::size_t> order_;                   ///< Task indices in completion order.
  std::size_t reported_ = 0;                         ///< Outcomes already passed to progress.
  bool started_ = false;
  bool cancelled_ = false;
  bool finished_ = false;                            ///< Done callbacks have run (or run now).
  bool settled_ = false;                             ///< notify() has reported the last outcome.
  std::vector<std::function<void()>> callbacks_;
  std::unordered_map<std::size_t, unsigned> attempts_; ///< The pool's thread only.
};

} // namespace proctor::detail
