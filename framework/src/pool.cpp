// The pool: worker actors fed with chunks of tasks by a thread of the host.
//
// Worker side. A worker is a function actor. For each chunk it records, in a slab of shared
// memory that the host made for it, which task it is running and then every result as it
// finishes it (one store publishes an entry). A full slab, and the end of a chunk, are flushed
// to the host as one pool_results message, after which the slab is emptied.
//
// Host side. One thread owns a scoped core (a mailbox), the workers and every chunk. It keeps at
// most two chunks with each worker, so that a worker never waits for its next one. Results come
// as messages; a worker's end comes as a DOWN, after every message it sent before it died. The
// thread then reads the dead worker's slab: results it finished but had not sent yet count (a
// task whose result came both ways counts once), the task it was running fails (or runs again,
// with retries), and what it had not started goes back to the front of the queue.
//
// The slab is written by a process that may be buggy or hostile: every entry is checked against
// the slab's bounds and the chunk's size before it is believed.

#include "proctor/pool.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "forkserver.hpp"
#include "mailbox.hpp"
#include "runtime.hpp"
#include "proctor/actor.hpp"
#include "proctor/current_process.hpp"
#include "proctor/message.hpp"
#include "proctor/process_error.hpp"
#include "proctor/scoped_actor.hpp"
#include "proctor/shared_segment.hpp"
#include "proctor/spawn.hpp"
#include "proctor/system_messages.hpp"

namespace proctor::detail {

/// A chunk of tasks for a worker: their arguments, each as [u32 length][bytes].
struct pool_chunk {
  std::uint64_t id = 0;
  std::string key;
  std::string state; ///< The callable's captures (pool_job::state).
  std::string blob;
};

/// Results of tasks of one chunk: slab entries, one after the other.
struct pool_results {
  std::uint64_t chunk = 0;
  std::string blob;
  bool last = false; ///< The chunk's last results: every task of it is accounted for.
};

/// Wakes the pool's thread: a submission, close or terminate is waiting.
struct pool_wake {
  std::uint8_t unused = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_chunk& x) {
  return f(caf::meta::type_name("proctor::pool_chunk"), x.id, x.key, x.state, x.blob);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_results& x) {
  return f(caf::meta::type_name("proctor::pool_results"), x.chunk, x.blob, x.last);
}

} // namespace proctor::detail

PROCTOR_MESSAGE(proctor::detail::pool_chunk, "proctor.pool.chunk");
PROCTOR_MESSAGE(proctor::detail::pool_results, "proctor.pool.results");
PROCTOR_MESSAGE(proctor::detail::pool_wake, "proctor.pool.wake");

namespace proctor::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::uint32_t none = 0xffffffffu;
constexpr std::uint64_t slab_magic = 0x70726f63736c6162ull; // "procslab"
constexpr std::size_t slab_bytes = 256 * 1024;
constexpr std::size_t worker_mailbox_bytes = 4u << 20;
constexpr std::size_t host_mailbox_bytes = 4u << 20;
/// A chunk's arguments stop growing here, so that two chunks always fit a worker's mailbox.
constexpr std::size_t chunk_bytes_limit = 1u << 20;
/// The arguments of one task may take this much (a chunk of one).
constexpr std::size_t task_bytes_limit = (3u << 20) / 2;
/// A callable's captures travel with every chunk: two chunks must still fit a worker's mailbox.
constexpr std::size_t state_bytes_limit = 256 * 1024;

/// At the start of a worker's slab; entries follow.
struct slab_header {
  std::uint64_t magic;
  std::atomic<std::uint64_t> chunk;     ///< The chunk the worker runs (0: none yet).
  std::atomic<std::uint32_t> running;   ///< Its position in the chunk, or `none`.
  std::atomic<std::uint32_t> committed; ///< Bytes of entries.
};

constexpr std::size_t slab_entries_capacity = slab_bytes - sizeof(slab_header);

void append_entry(std::string& out, std::uint32_t position, task_status status,
                  std::string_view bytes) {
  result_header h{position, static_cast<std::uint32_t>(bytes.size()),
                  static_cast<std::uint8_t>(status), 0, {}};
  out.append(reinterpret_cast<const char*>(&h), sizeof(h));
  out.append(bytes);
}

// ---------------------------------------------------------------------------------------------
// The worker

/// Sets a limit. For CPU time only the soft limit moves (SIGXCPU ends the worker there), so that
/// it can be raised again before each task without privileges.
void limit(int resource, std::uint64_t value) {
  if (value == 0)
    return;
  rlimit rl{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (resource == RLIMIT_CPU) {
    rlimit now{};
    ::getrlimit(RLIMIT_CPU, &now);
    rl.rlim_max = now.rlim_max;
    rl.rlim_cur = std::min(rl.rlim_cur, now.rlim_max);
  }
  if (::setrlimit(resource, &rl) != 0)
    throw std::system_error(errno, std::generic_category(), "proctor::pool: setrlimit");
}

class worker_state {
 public:
  worker_state(actor& self, actor_ref host, const segment_handle& slab, std::uint64_t max_tasks,
               std::uint64_t cpu_seconds)
    : self_(self), host_(std::move(host)), slab_(shared_segment::open(slab)),
      header_(static_cast<slab_header*>(slab_.data())),
      entries_(static_cast<char*>(slab_.data()) + sizeof(slab_header)), max_tasks_(max_tasks),
      cpu_seconds_(cpu_seconds) {
    if (slab_.size() < slab_bytes || header_->magic != slab_magic)
      throw std::runtime_error("proctor::pool: the worker's slab is not one");
  }

  void run(const pool_chunk& chunk) {
    auto invoke = find_task(chunk.key);
    header_->running.store(none, std::memory_order_relaxed);
    header_->chunk.store(chunk.id, std::memory_order_release);
    chunk_ = chunk.id;
    run_open_ = false;
    std::string_view blob = chunk.blob;
    std::uint32_t position = 0;
    std::string out;
    while (!blob.empty()) {
      std::uint32_t len = 0;
      if (blob.size() < sizeof(len))
        break;
      std::memcpy(&len, blob.data(), sizeof(len));
      blob.remove_prefix(sizeof(len));
      if (len > blob.size())
        break;
      auto args = blob.substr(0, len);
      blob.remove_prefix(len);
      header_->running.store(position, std::memory_order_release);
      if (cpu_seconds_ != 0)
        allow_cpu();
      out.clear();
      task_status status;
      if (invoke == nullptr) {
        status = task_status::bad_input;
        out = "no task is registered as '" + chunk.key + "' in the worker";
      } else {
        status = invoke(chunk.state, args, out);
      }
      record(position, status, out);
      ++position;
      ++tasks_;
    }
    header_->running.store(none, std::memory_order_release);
    flush(true);
    if (max_tasks_ != 0 && tasks_ >= max_tasks_)
      self_.quit();
  }

 private:
  /// The CPU limit is per task: what the worker has used so far, plus the limit.
  void allow_cpu() {
    rusage used{};
    ::getrusage(RUSAGE_SELF, &used);
    auto spent = static_cast<std::uint64_t>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) + 1;
    limit(RLIMIT_CPU, spent + cpu_seconds_);
  }

  void record(std::uint32_t position, task_status status, std::string_view bytes) {
    std::size_t need = sizeof(result_header) + bytes.size();
    if (need > slab_entries_capacity) {
      // Too big for the slab: sent on its own. A death after the send loses nothing; a death
      // before it fails the task, which was running.
      flush();
      std::string alone;
      append_entry(alone, position, status, bytes);
      if (!deliver(std::move(alone))) {
        std::string why = "a result of " + std::to_string(bytes.size())
                          + " bytes is larger than a pool carries";
        std::string small;
        append_entry(small, position, task_status::bad_result, why);
        deliver(std::move(small));
      }
      return;
    }
    auto used = header_->committed.load(std::memory_order_relaxed);
    bool small = status == task_status::ok && !bytes.empty() && bytes.size() <= 255;
    if (small && run_open_ && bytes.size() == run_stride_ && position == run_next_
        && used + bytes.size() <= slab_entries_capacity) {
      // One more value in the open run: the value, then the run's size, then the commit.
      std::memcpy(entries_ + used, bytes.data(), bytes.size());
      run_size_ += static_cast<std::uint32_t>(bytes.size());
      std::memcpy(entries_ + run_at_ + offsetof(result_header, size), &run_size_, sizeof(run_size_));
      header_->committed.store(static_cast<std::uint32_t>(used + bytes.size()),
                               std::memory_order_release);
      ++run_next_;
      return;
    }
    if (used + need > slab_entries_capacity) {
      flush();
      used = 0;
    }
    result_header h{position, static_cast<std::uint32_t>(bytes.size()),
                    static_cast<std::uint8_t>(status), 0, {}};
    run_open_ = small;
    if (small) {
      h.status = static_cast<std::uint8_t>(task_status::values);
      h.stride = static_cast<std::uint8_t>(bytes.size());
      run_at_ = used;
      run_stride_ = bytes.size();
      run_size_ = h.size;
      run_next_ = position + 1;
    }
    std::memcpy(entries_ + used, &h, sizeof(h));
    std::memcpy(entries_ + used + sizeof(h), bytes.data(), bytes.size());
    header_->committed.store(static_cast<std::uint32_t>(used + need), std::memory_order_release);
  }

  /// Sends what the slab holds; `last` at the end of a chunk (sent even when there is nothing).
  void flush(bool last = false) {
    auto used = header_->committed.load(std::memory_order_relaxed);
    if (used == 0 && !last)
      return;
    deliver(std::string{entries_, used}, last);
    header_->committed.store(0, std::memory_order_release);
    run_open_ = false;
  }

  /// Sends results to the host, waiting while its mailbox is full. False if they can never fit.
  bool deliver(std::string blob, bool last = false) {
    pool_results msg{chunk_, std::move(blob), last};
    for (;;) {
      auto sent = self_.send(host_, msg);
      if (sent)
        return true;
      switch (sent.error().code) {
        case actor_errc::mailbox_full:
          continue;
        case actor_errc::too_large:
          return false;
        default:
          // The host is gone: nobody wants the results, and the worker has no reason to live.
          self_.quit(exit_reason::shutdown("the pool is gone"));
          return true;
      }
    }
  }

  actor& self_;
  actor_ref host_;
  shared_segment slab_;
  slab_header* header_;
  char* entries_;
  std::uint64_t max_tasks_;
  std::uint64_t cpu_seconds_;
  std::uint64_t tasks_ = 0;
  std::uint64_t chunk_ = 0;
  // The open run of values (see result_header).
  bool run_open_ = false;
  std::size_t run_at_ = 0;
  std::size_t run_stride_ = 0;
  std::uint32_t run_size_ = 0;
  std::uint32_t run_next_ = 0;
};

behavior pool_worker(actor& self, actor_ref host, segment_handle slab, std::string init_key,
                     std::string init_state, std::string init_args, std::uint64_t max_tasks,
                     child_limits limits) {
  limit(RLIMIT_AS, limits.memory_bytes);
  limit(RLIMIT_CPU, limits.cpu_seconds);
  limit(RLIMIT_NOFILE, limits.open_files);
  auto state = std::make_shared<worker_state>(self, std::move(host), slab, max_tasks,
                                              limits.cpu_seconds);
  if (!init_key.empty()) {
    auto init = find_task(init_key);
    if (init == nullptr)
      throw std::runtime_error("proctor::pool: the initializer is not registered in the worker");
    std::string out;
    auto status = init(init_state, init_args, out);
    if (status != task_status::ok)
      throw std::runtime_error("the pool's initializer failed: " + out);
  }
  return {[state](const pool_chunk& chunk) { state->run(chunk); }};
}

// ---------------------------------------------------------------------------------------------
// The host

/// Tasks of one job on their way to a worker.
struct plan {
  std::shared_ptr<pool_job> job;
  std::vector<std::size_t> tasks;
};

/// A plan a worker holds.
struct chunk_record {
  std::uint64_t id;
  plan work;
  std::size_t remaining; ///< Tasks without an outcome yet.
  bool poisoned = false; ///< Its worker sent malformed results for it.
};

struct worker_record {
  actor_ref ref;
  shared_segment slab;
  pid_t pid = 0;
  std::uint64_t allowance = 0;        ///< Tasks it may still be given (maxtasksperchild).
  std::deque<chunk_record> chunks;    ///< In the order it runs them.
  bool stopping = false;
};


} // namespace

class pool_core {
 public:
  pool_core(std::size_t n, pool_options opts) : n_(n), opts_(std::move(opts)) {}

  /// Starts the thread and the first workers; throws what stopped a worker from starting.
  void start() {
    auto method = opts_.method.value_or(get_start_method());
    if (method == start_method::fork) {
      // The pool's thread cannot fork (a copy of a threaded process inherits its locks held), so
      // a fork pool forks a zygote of its own now, while this process is one thread: every
      // worker, replacements included, is a copy of the process as it is now, as with Python's
      // fork pools.
      try {
        own_zygote_ = forkserver_client::start();
      } catch (const process_error& e) {
        if (e.code() != process_errc::multithreaded)
          throw;
        throw process_error(process_errc::multithreaded,
                            "a pool with the fork start method must be made while this process "
                            "runs one thread (it forks a copy of the process for its workers, and "
                            "a copy of a threaded process inherits its locks held); another pool's "
                            "thread counts: use forkserver or spawn");
      }
    } else {
      // Start the forkserver now if it is not there, or is not as this process now is (a pool in
      // a pool's worker; a program that dropped privileges), and can be: the pool's thread
      // could not. spawn workers start from it too.
      runtime::get().start_zygote_if_possible();
    }
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, &started] { main(started); });
    try {
      ready.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }

  ~pool_core() { terminate(); }

  void submit(const std::shared_ptr<pool_job>& job) {
    {
      std::lock_guard lock{mu_};
      if (closed_)
        throw std::logic_error("proctor::pool: the pool is closed (close() or terminate())");
      incoming_.push_back(job);
    }
    wake();
  }

  void close() {
    {
      std::lock_guard lock{mu_};
      closed_ = true;
    }
    wake();
  }

  void terminate() {
    {
      std::lock_guard lock{mu_};
      closed_ = true;
      terminating_ = true;
    }
    wake();
    join_thread();
  }

  void join() {
    {
      std::lock_guard lock{mu_};
      if (!closed_)
        throw std::logic_error("proctor::pool::join: close() or terminate() first");
    }
    join_thread();
  }

  [[nodiscard]] std::size_t size() const noexcept { return n_; }

  [[nodiscard]] std::vector<pid_t> pids() const {
    std::lock_guard lock{mu_};
    return pids_;
  }

  [[nodiscard]] std::uint64_t started() const noexcept {
    return started_.load(std::memory_order_relaxed);
  }

 private:
  void join_thread() {
    std::lock_guard lock{join_mu_};
    if (thread_.joinable())
      thread_.join();
  }

  void wake() {
    if (wake_pending_.exchange(true, std::memory_order_acq_rel))
      return;
    auto link = link_of(host_ref_);
    if (!link
        || link->put(message_traits<pool_wake>::id, 0, 0, nullptr, std::string_view{"\0", 1},
                     true))
      wake_pending_.store(false, std::memory_order_release); // not queued: the next may try
  }

  // ---- the pool's thread

  void main(std::promise<void>& started) {
    zygote_override() = own_zygote_.get();
    scoped_actor host{opts_.name, host_mailbox_bytes};
    host_ = &host;
    host_ref_ = host.ref();
    try {
      for (std::size_t i = 0; i < n_; ++i)
        spawn_worker();
    } catch (...) {
      stop_workers(true);
      host_ = nullptr;
      started.set_exception(std::current_exception());
      return;
    }
    started.set_value();
    behavior on_message{
      [this](pool_results& r) { on_results(r); },
      [this](const down_msg& d) { on_down(d); },
      [](const pool_wake&) {},
    };
    for (;;) {
      bool closed;
      bool terminating;
      std::vector<std::shared_ptr<pool_job>> jobs;
      {
        std::lock_guard lock{mu_};
        wake_pending_.store(false, std::memory_order_release);
        jobs.swap(incoming_);
        closed = closed_;
        terminating = terminating_;
      }
      for (auto& job : jobs)
        split(job); // outside the lock: it may run callbacks, which may submit
      if (terminating) {
        fail_everything(task_errc::terminated, "the pool was terminated");
        stop_workers(true);
        break;
      }
      replace_workers();
      dispatch();
      if (closed && pending_.empty() && busy_workers() == 0) {
        stop_workers(false);
        fail_everything(task_errc::terminated, "the pool stopped");
        break;
      }
      try {
        core_receive(host.core(), receive_timeout(), on_message);
      } catch (const std::exception& e) {
        // A message that does not decode (a worker gone wrong): reported, never fatal.
        std::fprintf(stderr, "proctor: pool %s: a message was dropped: %s\n", opts_.name.c_str(),
                     e.what());
      }
    }
    host_ = nullptr;
  }

  std::chrono::milliseconds receive_timeout() const {
    if (workers_.size() < n_)
      return std::chrono::milliseconds(50); // a replacement is due
    return std::chrono::milliseconds(1000);
  }

  std::size_t busy_workers() const {
    std::size_t busy = 0;
    for (auto& [id, w] : workers_)
      if (!w.chunks.empty())
        ++busy;
    return busy;
  }

  /// Cuts a job into plans of at most chunksize tasks and chunk_bytes_limit bytes.
  void split(const std::shared_ptr<pool_job>& job) {
    std::size_t n = job->size();
    std::size_t i = 0;
    if (job->state.size() > state_bytes_limit) {
      // Every chunk carries the captures: too many of them would never fit a worker's mailbox.
      job->fail_rest(task_errc::bad_input,
                     "the task's captures take " + std::to_string(job->state.size())
                       + " bytes, more than a task may carry ("
                       + std::to_string(state_bytes_limit) + "): pass them as arguments");
      job->notify();
      return;
    }
    while (i < n) {
      // A whole chunk at once when it is small enough (the usual case)...
      auto last = std::min(n, i + job->chunksize());
      auto range = job->framed_range(i, last).size();
      if (range <= chunk_bytes_limit && (last - i > 1 || range <= task_bytes_limit)) {
        plan p{job, {}};
        p.tasks.resize(last - i);
        for (std::size_t k = 0; k < p.tasks.size(); ++k)
          p.tasks[k] = i + k;
        pending_.push_back(std::move(p));
        i = last;
        continue;
      }
      // ...else task by task, up to the byte limit.
      plan current{job, {}};
      std::size_t bytes = 0;
      for (; i < last; ++i) {
        auto size = job->framed_args(i).size();
        if (size > task_bytes_limit) {
          job->fail(i, task_error{task_errc::bad_input,
                                  "arguments of " + std::to_string(size - 4)
                                    + " bytes are more than a task may take ("
                                    + std::to_string(task_bytes_limit - 4) + ")",
                                  i});
          continue;
        }
        if (!current.tasks.empty() && bytes + size > chunk_bytes_limit)
          break;
        current.tasks.push_back(i);
        bytes += size;
      }
      if (!current.tasks.empty())
        pending_.push_back(std::move(current));
    }
    job->notify();
  }

  void spawn_worker() {
    auto slab = shared_segment::create(slab_bytes);
    auto* header = new (slab.data()) slab_header{};
    header->magic = slab_magic;
    spawn_options so;
    so.name = opts_.name + "-worker-" + std::to_string(++counter_);
    so.method = own_zygote_ ? std::optional{start_method::forkserver} : opts_.method;
    so.mailbox_bytes = worker_mailbox_bytes;
    so.start_timeout = opts_.start_timeout;
    auto ref = spawn<pool_worker>(so, host_ref_, slab.handle(), opts_.init_key, opts_.init_state,
                                  opts_.init_args, opts_.maxtasksperchild, opts_.limits);
    host_->monitor(ref);
    // The worker has mapped it (its init is done): nobody needs the name any more, and without
    // it nobody can open the slab again — to shrink it under the host's feet, say (a read of a
    // shrunk mapping is SIGBUS).
    slab.unlink();
    worker_record w;
    w.ref = ref;
    w.slab = std::move(slab);
    w.allowance = opts_.maxtasksperchild == 0 ? ~std::uint64_t{0} : opts_.maxtasksperchild;
    if (auto link = link_of(ref))
      w.pid = link->cell().pid.load(std::memory_order_acquire);
    workers_.emplace(ref.id(), std::move(w));
    started_.fetch_add(1, std::memory_order_relaxed);
    publish_pids();
  }

  void publish_pids() {
    std::vector<pid_t> pids;
    for (auto& [id, w] : workers_)
      if (!w.stopping)
        pids.push_back(w.pid);
    std::sort(pids.begin(), pids.end());
    std::lock_guard lock{mu_};
    pids_ = std::move(pids);
  }

  /// Keeps n workers while there is work (or may be); after failures, retries at a slower pace
  /// and, with no worker left, fails the queued tasks.
  void replace_workers() {
    bool closed;
    {
      std::lock_guard lock{mu_};
      closed = closed_;
    }
    if (closed && pending_.empty())
      return;
    while (workers_.size() < n_) {
      if (clock::now() < retry_at_)
        return;
      try {
        spawn_worker();
        failures_ = 0;
      } catch (const std::exception& e) {
        ++failures_;
        retry_at_ = clock::now() + std::chrono::milliseconds(100) * std::min(failures_, 20u);
        if (workers_.empty() && failures_ >= 3) {
          std::string why = std::string{"no worker could be started: "} + e.what();
          while (!pending_.empty()) {
            auto p = std::move(pending_.front());
            pending_.pop_front();
            for (auto i : p.tasks)
              p.job->fail(i, task_error{task_errc::pool_broken, why, i});
            p.job->notify();
          }
        }
        return;
      }
    }
  }

  void dispatch() {
    if (pending_.empty())
      return;
    for (int round = 0; round < 2; ++round) {
      for (auto& [id, w] : workers_) {
        if (pending_.empty())
          return;
        if (w.stopping || w.chunks.size() > static_cast<std::size_t>(round) || w.allowance == 0)
          continue;
        give(w);
      }
    }
  }

  void give(worker_record& w) {
    while (!pending_.empty()) {
      auto p = std::move(pending_.front());
      pending_.pop_front();
      if (!p.job->start()) {
        p.job->notify(); // cancelled: its outcomes are in
        continue;
      }
      if (p.tasks.size() > w.allowance) {
        plan rest{p.job, {p.tasks.begin() + static_cast<std::ptrdiff_t>(w.allowance), p.tasks.end()}};
        p.tasks.resize(w.allowance);
        pending_.push_front(std::move(rest));
      }
      pool_chunk msg;
      msg.id = ++chunk_ids_;
      msg.key = p.job->key();
      msg.state = p.job->state;
      auto first = p.tasks.front();
      auto last = p.tasks.back();
      if (last - first + 1 == p.tasks.size()) { // a range, as a fresh map's chunks are
        msg.blob.assign(p.job->framed_range(first, last + 1));
      } else {
        for (auto i : p.tasks)
          msg.blob.append(p.job->framed_args(i));
      }
      auto sent = host_->send(w.ref, msg);
      if (!sent && sent.error().code == actor_errc::too_large) {
        // Never fits (the limits above should have seen to it): fails, never loops.
        for (auto i : p.tasks)
          p.job->fail(i, task_error{task_errc::bad_input, sent.error().message, i});
        p.job->notify();
        continue;
      }
      if (!sent) {
        // Its mailbox is full or it has ended: the plan waits for another worker (a DOWN will
        // follow for a dead one).
        pending_.push_front(std::move(p));
        w.stopping = w.stopping || sent.error().code == actor_errc::noproc;
        return;
      }
      w.allowance -= p.tasks.size();
      auto count = p.tasks.size();
      w.chunks.push_back(chunk_record{msg.id, std::move(p), count});
      return;
    }
  }

  worker_record* owner_of(std::uint64_t chunk, chunk_record*& record) {
    for (auto& [id, w] : workers_)
      for (auto& c : w.chunks)
        if (c.id == chunk) {
          record = &c;
          return &w;
        }
    return nullptr;
  }

  /// Records results; returns false if `data` was malformed (what came before the flaw counts).
  bool apply(chunk_record& c, std::string data, bool from_slab) {
    auto& job = *c.work.job;
    auto r = job.record(std::move(data), c.work.tasks, from_slab);
    c.remaining -= std::min(c.remaining, r.count);
    job.notify();
    return r.well_formed;
  }

  void on_results(pool_results& r) {
    chunk_record* c = nullptr;
    auto* w = owner_of(r.chunk, c);
    if (w == nullptr)
      return; // a chunk already settled (its worker's death was handled first)
    if (core_sender(host_->core()) != w->ref) {
      std::fprintf(stderr, "proctor: pool %s: results for worker %d's chunk from another sender: "
                           "ignored\n", opts_.name.c_str(), static_cast<int>(w->pid));
      return;
    }
    bool well_formed = apply(*c, std::move(r.blob), false);
    if (!well_formed || (r.last && c->remaining != 0)) {
      // A worker that writes nonsense, or says it is done with a chunk whose results it did not
      // all send (a task wiped them), cannot be trusted with the rest of it: it is killed, and
      // its DOWN settles the chunk (see settle_dead).
      std::fprintf(stderr, "proctor: pool %s: %s from worker %d: killed\n", opts_.name.c_str(),
                   well_formed ? "results missing" : "malformed results",
                   static_cast<int>(w->pid));
      c->poisoned = true;
      tell_worker(w->ref, exit_reason::kill());
      return;
    }
    while (!w->chunks.empty() && w->chunks.front().remaining == 0)
      w->chunks.pop_front();
    if (w->allowance == 0 && w->chunks.empty())
      w->stopping = true; // it exits by itself after its last task
  }

  void on_down(const down_msg& d) {
    auto it = workers_.find(d.source.id());
    if (it == workers_.end())
      return;
    auto w = std::move(it->second);
    workers_.erase(it);
    // The replacement first: by the time a caller sees the task fail, its successor runs.
    replace_workers();
    publish_pids();
    settle_dead(w, d.reason);
  }

  /// A worker has ended: take its unsent results from the slab, fail (or retry) the task it died
  /// in, and queue again what it had not started.
  void settle_dead(worker_record& w, const exit_reason& why) {
    auto* header = static_cast<slab_header*>(w.slab.data());
    auto chunk = header->chunk.load(std::memory_order_acquire);
    auto running = header->running.load(std::memory_order_acquire);
    auto committed = std::min<std::size_t>(header->committed.load(std::memory_order_acquire),
                                           slab_entries_capacity);
    std::string_view entries{static_cast<const char*>(w.slab.data()) + sizeof(slab_header),
                             committed};
    std::deque<plan> again;
    auto charge = [&](const std::shared_ptr<pool_job>& job, std::size_t index, task_error error) {
      if (job->attempts(index)++ < opts_.retries) {
        again.push_back(plan{job, {index}});
      } else {
        job->fail(index, std::move(error));
        job->notify();
      }
    };
    bool front = true;
    for (auto& c : w.chunks) {
      auto& job = c.work.job;
      std::optional<std::size_t> died_in;
      bool suspect = c.poisoned;
      if (c.id == chunk) {
        if (!apply(c, std::string{entries}, true)) {
          std::fprintf(stderr, "proctor: pool %s: worker %d left a malformed slab\n",
                       opts_.name.c_str(), static_cast<int>(w.pid));
          suspect = true; // and its record of the running task is worth nothing either
        } else if (running < c.work.tasks.size() && !job->has_outcome(c.work.tasks[running])) {
          died_in = c.work.tasks[running];
        }
      } else if (front && !why.is_normal() && why.kind != exit_kind::shutdown) {
        // A worker runs its chunks in order, so the first is the one it was on — unless it died
        // before starting it, or something scribbled over its slab. Which, nobody can tell: its
        // tasks run again one by one, and one alone in its chunk is charged an attempt, so that a
        // task that wrecks its worker cannot send the pool round in circles.
        suspect = true;
      }
      front = false;
      if (died_in)
        charge(job, *died_in,
               task_error{task_errc::worker_died,
                          "its worker (pid " + std::to_string(w.pid) + ") died running it", *died_in,
                          why});
      std::vector<std::size_t> undone;
      for (auto i : c.work.tasks)
        if (i != died_in && !job->has_outcome(i))
          undone.push_back(i);
      if (undone.empty())
        continue;
      if (!suspect) {
        again.push_back(plan{job, std::move(undone)});
      } else if (undone.size() == 1 && c.work.tasks.size() == 1) {
        // Alone in its chunk: the task itself wrecked its worker.
        if (c.poisoned)
          charge(job, undone[0],
                 task_error{task_errc::bad_result,
                            "its worker (pid " + std::to_string(w.pid)
                              + ") wrote malformed results running it",
                            undone[0], why});
        else
          charge(job, undone[0],
                 task_error{task_errc::worker_died,
                            "its worker (pid " + std::to_string(w.pid)
                              + ") died holding it (its record of the task was unreadable)",
                            undone[0], why});
      } else {
        // One of them did it: each runs again alone, so that only the guilty one fails.
        for (auto i : undone)
          again.push_back(plan{job, {i}});
      }
    }
    for (auto p = again.rbegin(); p != again.rend(); ++p)
      pending_.push_front(std::move(*p));
  }

  void fail_everything(task_errc code, const std::string& why) {
    std::vector<std::shared_ptr<pool_job>> jobs;
    for (auto& p : pending_)
      jobs.push_back(p.job);
    for (auto& [id, w] : workers_)
      for (auto& c : w.chunks)
        jobs.push_back(c.work.job);
    {
      std::lock_guard lock{mu_};
      for (auto& j : incoming_)
        jobs.push_back(j);
      incoming_.clear();
    }
    pending_.clear();
    for (auto& [id, w] : workers_)
      w.chunks.clear();
    for (auto& j : jobs) {
      j->fail_rest(code, why);
      j->notify();
    }
  }

  /// send_exit to a worker; what this process cannot deliver (out of descriptors) is reported,
  /// not thrown: the worker's own end, or the pool's, still comes.
  void tell_worker(const actor_ref& ref, const exit_reason& why) noexcept {
    try {
      host_->send_exit(ref, why);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "proctor: pool %s: %s\n", opts_.name.c_str(), e.what());
    }
  }

  /// Stops every worker (shutdown, or kill if `now`) and waits for their ends; a worker that has
  /// not ended after its grace time is killed.
  void stop_workers(bool now) {
    for (auto& [id, w] : workers_)
      tell_worker(w.ref, now ? exit_reason::kill() : exit_reason::shutdown());
    auto grace = clock::now() + std::chrono::seconds(5);
    bool killed = now;
    behavior on_message{
      [this](const down_msg& d) { workers_.erase(d.source.id()); },
      [](const pool_results&) {},
      [](const pool_wake&) {},
    };
    while (!workers_.empty()) {
      if (!killed && clock::now() >= grace) {
        for (auto& [id, w] : workers_)
          tell_worker(w.ref, exit_reason::kill());
        killed = true;
        grace = clock::now() + std::chrono::seconds(5);
      } else if (killed && clock::now() >= grace) {
        std::fprintf(stderr, "proctor: pool %s: %zu worker(s) did not end\n", opts_.name.c_str(),
                     workers_.size());
        break;
      }
      try {
        core_receive(host_->core(), std::chrono::milliseconds(100), on_message);
      } catch (const std::exception&) {
        // nothing a stopping pool needs
      }
    }
    workers_.clear();
    publish_pids();
  }

  const std::size_t n_;
  const pool_options opts_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<pool_job>> incoming_;
  bool closed_ = false;
  bool terminating_ = false;
  std::vector<pid_t> pids_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::uint64_t> started_{0};
  std::mutex join_mu_;
  std::thread thread_;
  actor_ref host_ref_;
  std::unique_ptr<forkserver_client> own_zygote_; ///< A fork pool's (see start()).

  // The pool's thread only.
  scoped_actor* host_ = nullptr;
  std::unordered_map<std::uint64_t, worker_record> workers_;
  std::deque<plan> pending_;
  std::uint64_t chunk_ids_ = 0;
  std::uint64_t counter_ = 0;
  unsigned failures_ = 0;
  clock::time_point retry_at_{};
};

} // namespace proctor::detail

namespace proctor {

pool::pool(std::size_t processes, pool_options opts) {
  if (processes == 0)
    processes = static_cast<std::size_t>(cpu_count());
  core_ = std::make_shared<detail::pool_core>(processes, std::move(opts));
  core_->start();
}

pool::~pool() {
  if (core_)
    core_->terminate();
}

void pool::close() { core_->close(); }
void pool::terminate() { core_->terminate(); }
void pool::join() { core_->join(); }
std::size_t pool::size() const { return core_->size(); }
std::vector<pid_t> pool::worker_pids() const { return core_->pids(); }
std::uint64_t pool::workers_started() const { return core_->started(); }

std::shared_ptr<detail::pool_job> pool::submit(std::shared_ptr<detail::pool_job> job) {
  core_->submit(job);
  return job;
}

std::shared_ptr<detail::pool_job> pool::make_job(const std::string& key, std::string args,
                                                 std::vector<std::uint64_t> offsets,
                                                 std::size_t chunksize) {
  return std::make_shared<detail::pool_job>(key, std::move(args), std::move(offsets), chunksize);
}

std::size_t pool::default_chunksize(std::size_t tasks) const {
  // Python: chunksize, extra = divmod(len(iterable), len(self._pool) * 4); if extra: += 1
  auto per = core_->size() * 4;
  auto chunk = tasks / per + (tasks % per != 0 ? 1 : 0);
  return chunk == 0 ? 1 : chunk;
}

} // namespace proctor
