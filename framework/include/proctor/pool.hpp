#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "proctor/child_spec.hpp"
#include "proctor/detail/pool_job.hpp"
#include "proctor/expected.hpp"
#include "proctor/start_method.hpp"
#include "proctor/task.hpp"

namespace proctor {

namespace detail {
class pool_core;
} // namespace detail

/// How a pool runs its workers (Python's Pool(processes, initializer, initargs,
/// maxtasksperchild), and more).
struct pool_options {
  std::string name = "pool";               ///< Workers are named "<name>-worker-N".
  std::optional<start_method> method{};    ///< Empty: the default start method.
  std::uint64_t maxtasksperchild = 0;      ///< A worker is replaced after this many tasks (0: never).
  /// A task whose worker died (segfault, abort, out of memory, SIGKILL) runs again on another
  /// worker up to this many times before it fails with worker_died.
  unsigned retries = 0;
  std::chrono::milliseconds start_timeout{10000}; ///< For a worker (and its initializer) to start.
  /// Limits each worker sets on itself as it starts (0: none). Past the memory limit an
  /// allocation fails: the task fails with task_errc::raised ("std::bad_alloc") and the worker
  /// lives on. The CPU time limit is per task: a task that uses more dies with its worker
  /// (worker_died, SIGXCPU), which is replaced.
  child_limits limits{};

  /// Runs `F(args...)` once in every worker as it starts (Python's initializer and initargs). A
  /// worker whose initializer throws does not start: the pool's constructor throws spawn_error.
  template <class Task, class... Args>
  pool_options& initializer(const Task& f, Args&&... args) {
    using T = task_for_t<Task>;
    std::string framed;
    T::encode_into(framed, std::forward<Args>(args)...);
    init_state = task_state(f);
    init_key = T::key();
    init_args = framed.substr(sizeof(std::uint32_t));
    return *this;
  }

  std::string init_key{};   ///< Set by initializer().
  std::string init_args{};  ///< Set by initializer().
  std::string init_state{}; ///< Set by initializer().
};

/// How one map runs.
struct map_options {
  /// Tasks handed to a worker at once. 0: as Python chooses for map (the tasks spread over four
  /// chunks per worker); imap and imap_unordered take 0 as 1, as Python does.
  std::size_t chunksize = 0;
  /// Called on the pool's thread as results come in: (done, total), the last call before a
  /// blocking map returns. Keep it short; an exception it throws is reported on stderr.
  std::function<void(std::size_t done, std::size_t total)> progress{};
};

/// The pending result of pool::apply_async (Python's AsyncResult).
template <class R>
class async_result {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// Waits for the result; throws the task's task_error if it failed.
  R get() const { return get_until(std::nullopt); }
  /// Waits at most `timeout`; throws timeout_error after that.
  R get(duration timeout) const { return get_until(std::chrono::steady_clock::now() + timeout); }
  /// Waits at most `timeout`; true if the result (or error) is there.
  bool wait(duration timeout) const {
    return job_->wait_all(std::chrono::steady_clock::now() + timeout);
  }
  void wait() const { job_->wait_all(std::nullopt); }
  [[nodiscard]] bool ready() const { return job_->done(); }
  /// True if the task succeeded. Throws std::logic_error while it is not ready (as Python).
  [[nodiscard]] bool successful() const {
    if (!ready())
      throw std::logic_error("proctor::async_result::successful: the result is not ready");
    return job_->error(0) == nullptr;
  }

  /// Python's callback and error_callback: one of them runs once the task ends — at once, here,
  /// if it already has, else on the pool's thread. Keep it short, and never wait in it for a
  /// result of the same pool (that thread delivers them); an exception it throws is reported on
  /// stderr.
  void add_callback(std::function<void(const R&)> on_result,
                    std::function<void(const task_error&)> on_error = {}) const {
    job_->when_done([job = job_, on_result = std::move(on_result), on_error = std::move(on_error)] {
      if (auto* e = job->error(0)) {
        if (on_error)
          on_error(*e);
      } else if (on_result) {
        on_result(detail::decode_value<R>(job->result(0)));
      }
    });
  }

  explicit async_result(std::shared_ptr<detail::pool_job> job) : job_(std::move(job)) {}

 private:
  R get_until(detail::pool_job::deadline until) const {
    if (!job_->wait_all(until))
      throw timeout_error("proctor::async_result::get: the result is not there yet");
    if (auto* e = job_->error(0))
      throw *e;
    return detail::decode_value<R>(job_->result(0));
  }

  std::shared_ptr<detail::pool_job> job_;
};

/// The results of imap (in input order) or imap_unordered (in completion order), as they come:
/// each an expected holding the value or the task's error, so one failed task does not end the
/// stream (Python's IMapIterator raises at that item and goes on).
template <class R>
class result_stream {
 public:
  using item = expected<R, task_error>;
  using duration = std::chrono::steady_clock::duration;

  /// The next result, waiting as long as it takes; empty after the last.
  std::optional<item> next() { return next_until(std::nullopt); }
  /// Waits at most `timeout`; throws timeout_error after that (Python's next(timeout)).
  std::optional<item> next(duration timeout) {
    return next_until(std::chrono::steady_clock::now() + timeout);
  }
  /// The input index of the result next() returned last.
  [[nodiscard]] std::size_t last_index() const noexcept { return last_; }
  [[nodiscard]] std::size_t size() const noexcept { return job_->size(); }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = item;
    using difference_type = std::ptrdiff_t;
    using pointer = const item*;
    using reference = const item&;
    iterator() = default;
    explicit iterator(result_stream* s) : stream_(s) { ++*this; }
    reference operator*() const { return *current_; }
    pointer operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = stream_->next();
      if (!current_)
        stream_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.stream_ == b.stream_; }

   private:
    result_stream* stream_ = nullptr;
    std::optional<item> current_;
  };

  iterator begin() { return iterator{this}; }
  iterator end() { return {}; }

  result_stream(std::shared_ptr<detail::pool_job> job, bool ordered)
    : job_(std::move(job)), ordered_(ordered) {}

 private:
  std::optional<item> next_until(detail::pool_job::deadline until) {
    if (cursor_ == job_->size())
      return std::nullopt;
    std::size_t i = cursor_;
    if (ordered_) {
      if (!job_->wait_for(i, until))
        throw timeout_error("proctor::result_stream::next: no result yet");
    } else {
      auto got = job_->wait_completed(cursor_, until);
      if (!got)
        throw timeout_error("proctor::result_stream::next: no result yet");
      i = *got;
    }
    ++cursor_;
    last_ = i;
    if (auto* e = job_->error(i))
      return item{*e};
    return item{detail::decode_value<R>(job_->result(i))};
  }

  std::shared_ptr<detail::pool_job> job_;
  bool ordered_;
  std::size_t cursor_ = 0;
  std::size_t last_ = 0;
};

/// A pool of worker processes, as Python's `multiprocessing.Pool`:
///
///     int square(int x) { return x * x; }
///     proctor::pool pool{5};
///     auto squares = pool.map(proctor::task<square>, std::vector{1, 2, 3});   // {1, 4, 9}
///
/// A task is proctor::task<f> for a function f, or a lambda whose captures are plain values (see
/// copyable_callable).
///
/// Workers are actor processes started with the pool's start method; a thread of the pool hands
/// them chunks of tasks and collects the results. Under `fork`, the pool forks a zygote of its own
/// when it is made (the process must run one thread then), and every worker, replacements too, is
/// a copy of the process as it was at that moment — Python's fork pools, without forking a
/// threaded process. Under `forkserver` (the default) and `spawn`, workers start from the
/// program's forkserver or image, and see none of the caller's later state. A pool may be made in
/// a pool's worker. A worker that dies — segfault, abort, out of
/// memory, SIGKILL — fails only the task it was running (task_error worker_died with its exit
/// reason; `retries` runs it again elsewhere first) and is replaced; every other task is served,
/// each exactly once: a worker records every result in shared memory as it finishes it, and the
/// pool reads what a dead worker finished from there.
///
/// Closing: close() takes no more tasks; join() waits for the queued ones and for the workers to
/// exit; terminate() kills the workers at once and fails what was queued (`terminated`). The
/// destructor terminates, as leaving Python's `with Pool()` block does.
/// @note Thread-safe: any thread may submit and wait.
class pool {
 public:
  /// Starts `processes` workers (0: cpu_count()). Throws spawn_error if one does not start (its
  /// initializer threw, say), process_error(multithreaded) for a fork pool made while this process
  /// runs other threads.
  explicit pool(std::size_t processes = 0, pool_options opts = {});
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  pool(pool&&) noexcept = default;
  pool& operator=(pool&&) noexcept = default;

  /// F applied to every input, results in input order. Throws the task_error of the first
  /// failed input (by index) once every task has ended.
  template <class Task, class Range>
  auto map(const Task& f, const Range& inputs, map_options mo = {}) {
    using T = task_for_t<Task>;
    return values_of<typename T::result_type>(submit_each<T, false>(f, inputs, mo, false));
  }

  /// As map, but every input gets its own result or error: one failure loses nothing else.
  template <class Task, class Range>
  auto try_map(const Task& f, const Range& inputs, map_options mo = {}) {
    using T = task_for_t<Task>;
    return collect<typename T::result_type>(submit_each<T, false>(f, inputs, mo, false));
  }

  /// Python's starmap: every input is a tuple of F's arguments.
  template <class Task, class Range>
  auto starmap(const Task& f, const Range& inputs, map_options mo = {}) {
    using T = task_for_t<Task>;
    return values_of<typename T::result_type>(submit_each<T, true>(f, inputs, mo, false));
  }

  /// As starmap, but every input gets its own result or error.
  template <class Task, class Range>
  auto try_starmap(const Task& f, const Range& inputs, map_options mo = {}) {
    using T = task_for_t<Task>;
    return collect<typename T::result_type>(submit_each<T, true>(f, inputs, mo, false));
  }

  /// Results one by one in input order, as they come (lazy for the caller; the tasks are all
  /// queued at once).
  template <class Task, class Range>
  result_stream<typename task_for_t<Task>::result_type> imap(const Task& f, const Range& inputs,
                                                             map_options mo = {}) {
    return {submit_each<task_for_t<Task>, false>(f, inputs, mo, true), true};
  }

  /// Results one by one in the order they complete.
  template <class Task, class Range>
  result_stream<typename task_for_t<Task>::result_type> imap_unordered(const Task& f,
                                                                       const Range& inputs,
                                                                       map_options mo = {}) {
    return {submit_each<task_for_t<Task>, false>(f, inputs, mo, true), false};
  }

  /// Runs F(args...) on a worker and waits for the result.
  template <class Task, class... Args>
  typename task_for_t<Task>::result_type apply(const Task& f, Args&&... args) {
    return apply_async(f, std::forward<Args>(args)...).get();
  }

  /// Runs F(args...) on a worker; the result comes later.
  template <class Task, class... Args>
  async_result<typename task_for_t<Task>::result_type> apply_async(const Task& f,
                                                                   Args&&... args) {
    return async_result<typename task_for_t<Task>::result_type>{
      submit(single_job<task_for_t<Task>>(task_state(f), std::forward<Args>(args)...))};
  }

  /// No more tasks (a submission throws std::logic_error); queued ones still run.
  void close();
  /// Kills the workers now; every task not finished fails with `terminated`.
  void terminate();
  /// Waits until the queued tasks are done and the workers have exited. Throws std::logic_error
  /// unless close() or terminate() came first (as Python).
  void join();

  /// The number of workers the pool keeps.
  [[nodiscard]] std::size_t size() const;
  /// The pids of the live workers, in ascending order (for tests and for people watching `ps`).
  /// A dead worker's successor is started before the failure of its task is reported.
  [[nodiscard]] std::vector<pid_t> worker_pids() const;
  /// Workers started so far, the first ones included (replacements show up here).
  [[nodiscard]] std::uint64_t workers_started() const;

  /// Submits a prepared job (the executor's way in).
  std::shared_ptr<detail::pool_job> submit(std::shared_ptr<detail::pool_job> job);

  /// A job of one call of task T (a task_for_t) carrying `state` (task_state()).
  template <class T, class... Args>
  static std::shared_ptr<detail::pool_job> single_job(std::string state, Args&&... args) {
    std::string framed;
    T::encode_into(framed, std::forward<Args>(args)...);
    auto job = make_job(T::key(), std::move(framed), {0}, 1);
    job->state = std::move(state);
    return job;
  }

  static std::shared_ptr<detail::pool_job> make_job(const std::string& key, std::string args,
                                                    std::vector<std::uint64_t> offsets,
                                                    std::size_t chunksize);

 private:
  template <class R>
  static std::vector<R> values_of(const std::shared_ptr<detail::pool_job>& job) {
    job->wait_settled(std::nullopt);
    if (auto* e = job->first_error())
      throw *e;
    std::vector<R> values;
    values.reserve(job->size());
    for (std::size_t i = 0; i < job->size(); ++i)
      values.push_back(detail::decode_value<R>(job->result(i)));
    return values;
  }

  template <class R>
  static std::vector<expected<R, task_error>> collect(const std::shared_ptr<detail::pool_job>& job) {
    job->wait_settled(std::nullopt);
    std::vector<expected<R, task_error>> out;
    out.reserve(job->size());
    for (std::size_t i = 0; i < job->size(); ++i) {
      if (auto* e = job->error(i))
        out.emplace_back(*e);
      else
        out.emplace_back(detail::decode_value<R>(job->result(i)));
    }
    return out;
  }

  template <class T, bool Star, class Task, class Range>
  std::shared_ptr<detail::pool_job> submit_each(const Task& f, const Range& inputs,
                                                const map_options& mo, bool lazy) {
    std::string args;
    std::vector<std::uint64_t> offsets;
    std::size_t count = 0;
    if constexpr (T::framed_size != 0 && std::ranges::sized_range<const Range>) {
      // Every call takes the same bytes: one allocation, no offsets.
      count = std::ranges::size(inputs);
      args.resize(count * T::framed_size);
      char* out = args.data();
      for (const auto& x : inputs) {
        if constexpr (Star)
          std::apply([&](const auto&... xs) { T::encode_fixed(out, xs...); }, x);
        else
          T::encode_fixed(out, x);
        out += T::framed_size;
      }
    } else {
      if constexpr (std::ranges::sized_range<const Range>)
        offsets.reserve(std::ranges::size(inputs));
      for (const auto& x : inputs) {
        offsets.push_back(args.size());
        if constexpr (Star)
          std::apply([&](const auto&... xs) { T::encode_into(args, xs...); }, x);
        else
          T::encode_into(args, x);
      }
      count = offsets.size();
    }
    std::size_t chunk = mo.chunksize;
    if (chunk == 0)
      chunk = lazy ? 1 : default_chunksize(count);
    std::shared_ptr<detail::pool_job> job;
    if (offsets.empty() && count != 0)
      job = std::make_shared<detail::pool_job>(T::key(), std::move(args), count, T::framed_size,
                                               chunk);
    else
      job = make_job(T::key(), std::move(args), std::move(offsets), chunk);
    job->progress = mo.progress;
    job->state = task_state(f);
    return submit(std::move(job));
  }

  [[nodiscard]] std::size_t default_chunksize(std::size_t tasks) const;

  std::shared_ptr<detail::pool_core> core_;
};

} // namespace proctor
