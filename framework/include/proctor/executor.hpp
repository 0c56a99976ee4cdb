#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "proctor/pool.hpp"

namespace proctor {

/// The result of executor::submit, as concurrent.futures.Future.
template <class R>
class future {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// Waits for the result; throws the task's task_error if it failed (`cancelled` if it was).
  R result() const { return result_until(std::nullopt); }
  /// Waits at most `timeout`; throws timeout_error after that.
  R result(duration timeout) const {
    return result_until(std::chrono::steady_clock::now() + timeout);
  }
  /// Waits for the end; the task's error, or empty if it succeeded.
  std::optional<task_error> exception() const {
    job_->wait_all(std::nullopt);
    if (auto* e = job_->error(0))
      return *e;
    return std::nullopt;
  }
  /// Waits at most `timeout`; true once the task has ended.
  bool wait(duration timeout) const {
    return job_->wait_all(std::chrono::steady_clock::now() + timeout);
  }
  [[nodiscard]] bool done() const { return job_->done(); }
  /// True while a worker has it.
  [[nodiscard]] bool running() const { return job_->running(); }
  [[nodiscard]] bool cancelled() const { return job_->cancelled(); }
  /// Cancels the task unless a worker has taken it; true if it is (now) cancelled.
  bool cancel() const { return job_->cancel(); }
  /// Runs `fn(*this)` once the task has ended: at once, here, if it has; else on the pool's
  /// thread — keep it short, and never wait in it for another future of the same executor.
  void add_done_callback(std::function<void(const future&)> fn) const {
    job_->when_done([self = *this, fn = std::move(fn)] { fn(self); });
  }

  explicit future(std::shared_ptr<detail::pool_job> job) : job_(std::move(job)) {}
  [[nodiscard]] const std::shared_ptr<detail::pool_job>& job() const noexcept { return job_; }
  friend bool operator==(const future& a, const future& b) noexcept { return a.job_ == b.job_; }

 private:
  R result_until(detail::pool_job::deadline until) const {
    if (!job_->wait_all(until))
      throw timeout_error("proctor::future::result: the result is not there yet");
    if (auto* e = job_->error(0))
      throw *e;
    return detail::decode_value<R>(job_->result(0));
  }

  std::shared_ptr<detail::pool_job> job_;
};

/// A pool behind concurrent.futures' interface (ProcessPoolExecutor):
///
///     proctor::executor ex;
///     auto f = ex.submit(proctor::task<square>, 10);
///     f.result();   // 100
///
/// A worker that dies fails only its own future (task_error worker_died), where Python's
/// executor breaks for good. The destructor waits for what was submitted (shutdown(true)).
/// @note Thread-safe.
class executor {
 public:
  explicit executor(std::size_t max_workers = 0, pool_options opts = {})
    : pool_(max_workers, std::move(opts)) {}
  ~executor() { shutdown(true); }
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Runs F(args...) on a worker. Throws std::logic_error after shutdown().
  template <class Task, class... Args>
  future<typename task_for_t<Task>::result_type> submit(const Task& f, Args&&... args) {
    auto job = pool::single_job<task_for_t<Task>>(task_state(f), std::forward<Args>(args)...);
    {
      std::lock_guard lock{mu_};
      // Forget finished jobs now and then, not at every submit (that made n submits cost n²).
      if (submitted_.size() >= 2 * kept_) {
        std::erase_if(submitted_, [](auto& weak) { return weak.expired(); });
        kept_ = std::max<std::size_t>(submitted_.size(), 64);
      }
      submitted_.push_back(job);
    }
    return future<typename task_for_t<Task>::result_type>{pool_.submit(std::move(job))};
  }

  /// Executor.map: results in input order as they come, each a value or the task's error.
  template <class Task, class Range>
  result_stream<typename task_for_t<Task>::result_type> map(const Task& f, const Range& inputs,
                                                            std::size_t chunksize = 1) {
    return pool_.imap(f, inputs, map_options{chunksize, {}});
  }

  /// No more submissions. `cancel_futures` cancels what no worker has started; `wait` waits for
  /// the rest and for the workers to exit. Calling it again is harmless.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    if (cancel_futures) {
      std::vector<std::shared_ptr<detail::pool_job>> jobs;
      {
        std::lock_guard lock{mu_};
        for (auto& weak : submitted_)
          if (auto job = weak.lock())
            jobs.push_back(std::move(job));
      }
      for (auto& job : jobs)
        job->cancel();
    }
    pool_.close();
    if (wait)
      pool_.join();
  }

  [[nodiscard]] std::vector<pid_t> worker_pids() const { return pool_.worker_pids(); }
  [[nodiscard]] std::uint64_t workers_started() const { return pool_.workers_started(); }

 private:
  pool pool_;
  std::mutex mu_;
  std::vector<std::weak_ptr<detail::pool_job>> submitted_;
  std::size_t kept_ = 64; ///< submitted_'s size after its last sweep (at least 64).
};

/// When wait() returns (concurrent.futures.FIRST_COMPLETED, ...).
enum class return_when { first_completed, first_exception, all_completed };

template <class R>
struct done_and_not_done {
  std::vector<future<R>> done;
  std::vector<future<R>> not_done;
};

namespace detail {

/// Collects the completions of a set of futures, in the order they happen.
class completion_log {
 public:
  void add(std::size_t i, bool failed) {
    {
      std::lock_guard lock{mu_};
      order_.push_back(i);
      failed_ = failed_ || failed;
    }
    cv_.notify_all();
  }
  /// Waits until `pred(order, failed)` holds or `until` passes; returns pred's last value.
  template <class Pred>
  bool wait(pool_job::deadline until, Pred pred) {
    std::unique_lock lock{mu_};
    auto ready = [&] { return pred(order_, failed_); };
    if (!until) {
      cv_.wait(lock, ready);
      return true;
    }
    return cv_.wait_until(lock, *until, ready);
  }
  std::size_t at(std::size_t n) {
    std::lock_guard lock{mu_};
    return order_[n];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::size_t> order_;
  bool failed_ = false;
};

template <class R>
std::shared_ptr<completion_log> watch(const std::vector<future<R>>& fs) {
  auto log = std::make_shared<completion_log>();
  for (std::size_t i = 0; i < fs.size(); ++i)
    fs[i].job()->when_done([log, i, job = fs[i].job().get()] {
      // Python's FIRST_EXCEPTION: a cancelled future raised nothing.
      auto* e = job->error(0);
      log->add(i, e != nullptr && e->code() != task_errc::cancelled);
    });
  return log;
}

} // namespace detail

/// concurrent.futures.wait: waits until `when` (or the timeout) and splits the futures into
/// done and not done.
template <class R>
done_and_not_done<R> wait(const std::vector<future<R>>& fs,
                    std::optional<std::chrono::steady_clock::duration> timeout = {},
                    return_when when = return_when::all_completed) {
  auto log = detail::watch(fs);
  detail::pool_job::deadline until;
  if (timeout)
    until = std::chrono::steady_clock::now() + *timeout;
  log->wait(until, [&](const std::vector<std::size_t>& order, bool failed) {
    switch (when) {
      case return_when::first_completed: return !order.empty() || fs.empty();
      case return_when::first_exception: return failed || order.size() == fs.size();
      case return_when::all_completed: return order.size() == fs.size();
    }
    return true;
  });
  done_and_not_done<R> out;
  for (auto& f : fs)
    (f.done() ? out.done : out.not_done).push_back(f);
  return out;
}

/// concurrent.futures.as_completed: the futures in the order they end. next() waits; with a
/// timeout for the whole iteration, it throws timeout_error once that has passed.
template <class R>
class as_completed {
 public:
  explicit as_completed(std::vector<future<R>> fs,
                        std::optional<std::chrono::steady_clock::duration> timeout = {})
    : fs_(std::move(fs)), log_(detail::watch(fs_)) {
    if (timeout)
      until_ = std::chrono::steady_clock::now() + *timeout;
  }

  /// The next future to end; empty after the last.
  std::optional<future<R>> next() {
    if (n_ == fs_.size())
      return std::nullopt;
    auto n = n_;
    if (!log_->wait(until_, [n](const std::vector<std::size_t>& order, bool) {
          return order.size() > n;
        }))
      throw timeout_error("proctor::as_completed: futures still running at the timeout");
    ++n_;
    return fs_[log_->at(n)];
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = future<R>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(as_completed* s) : s_(s) { ++*this; }
    const future<R>& operator*() const { return *current_; }
    const future<R>* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = s_->next();
      if (!current_)
        s_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.s_ == b.s_; }

   private:
    as_completed* s_ = nullptr;
    std::optional<future<R>> current_;
  };

  iterator begin() { return iterator{this}; }
  iterator end() { return {}; }

 private:
  std::vector<future<R>> fs_;
  std::shared_ptr<detail::completion_log> log_;
  detail::pool_job::deadline until_;
  std::size_t n_ = 0;
};

} // namespace proctor

/// Futures key maps and sets, as in Python's `{executor.submit(f, n): n for n in ...}`.
template <class R>
struct std::hash<proctor::future<R>> {
  std::size_t operator()(const proctor::future<R>& f) const noexcept {
    return std::hash<const void*>{}(f.job().get());
  }
};
