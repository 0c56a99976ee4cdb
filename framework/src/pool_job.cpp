#include "proctor/detail/pool_job.hpp"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <map>

namespace proctor {

const char* to_string(task_errc e) noexcept {
  switch (e) {
    case task_errc::raised: return "raised";
    case task_errc::worker_died: return "worker died";
    case task_errc::bad_result: return "bad result";
    case task_errc::bad_input: return "bad input";
    case task_errc::cancelled: return "cancelled";
    case task_errc::terminated: return "terminated";
    case task_errc::pool_broken: return "pool broken";
  }
  return "unknown";
}

namespace {

std::string describe(task_errc code, const std::string& message, std::size_t index,
                     const std::optional<exit_reason>& reason) {
  std::string s = "task " + std::to_string(index) + ": " + to_string(code);
  if (reason)
    s += " (" + to_string(*reason) + ")";
  if (!message.empty())
    s += ": " + message;
  return s;
}

} // namespace

task_error::task_error(task_errc code, std::string message, std::size_t index,
                       std::optional<exit_reason> reason)
  : std::runtime_error(describe(code, message, index, reason)), code_(code),
    message_(std::move(message)), index_(index), reason_(std::move(reason)) {}

} // namespace proctor

namespace proctor::detail {

namespace {

/// Filled during static initialization (single-threaded), read-only afterwards.
std::map<std::string, task_invoker, std::less<>>& tasks() {
  static std::map<std::string, task_invoker, std::less<>> registry;
  return registry;
}

} // namespace

const std::string& register_task(std::string key, task_invoker invoke) {
  auto [pos, added] = tasks().emplace(std::move(key), invoke);
  if (!added && pos->second != invoke) {
    std::fprintf(stderr, "proctor: two tasks share the key '%s'\n", pos->first.c_str());
    std::abort();
  }
  return pos->first;
}

task_invoker find_task(std::string_view key) noexcept {
  auto& registry = tasks();
  auto pos = registry.find(key);
  return pos == registry.end() ? nullptr : pos->second;
}

pool_job::pool_job(std::string key, std::string args, std::vector<std::uint64_t> offsets,
                   std::size_t chunksize)
  : key_(std::move(key)), args_(std::move(args)), offsets_(std::move(offsets)),
    chunksize_(chunksize == 0 ? 1 : chunksize), slots_(offsets_.size()) {
  order_.reserve(slots_.size());
}

pool_job::pool_job(std::string key, std::string args, std::size_t count, std::size_t stride,
                   std::size_t chunksize)
  : key_(std::move(key)), args_(std::move(args)), stride_(stride),
    chunksize_(chunksize == 0 ? 1 : chunksize), slots_(count) {
  order_.reserve(slots_.size());
}

std::string_view pool_job::framed_args(std::size_t i) const noexcept {
  return framed_range(i, i + 1);
}

std::string_view pool_job::framed_range(std::size_t first, std::size_t last) const noexcept {
  if (offsets_.empty())
    return std::string_view{args_}.substr(first * stride_, (last - first) * stride_);
  auto from = offsets_[first];
  auto to = last < offsets_.size() ? offsets_[last] : args_.size();
  return std::string_view{args_}.substr(from, to - from);
}

const task_error* pool_job::first_error() const noexcept {
  {
    std::lock_guard lock{mu_};
    if (errors_.empty())
      return nullptr; // the usual case: no scan
  }
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].state == failed)
      return static_cast<const task_error*>(slots_[i].data);
  return nullptr;
}

bool pool_job::wait_all(deadline until) const {
  std::unique_lock lock{mu_};
  auto ready = [&] { return order_.size() == slots_.size(); };
  if (!until) {
    cv_.wait(lock, ready);
    return true;
  }
  return cv_.wait_until(lock, *until, ready);
}

bool pool_job::wait_settled(deadline until) const {
  std::unique_lock lock{mu_};
  auto ready = [&] { return settled_; };
  if (!until) {
    cv_.wait(lock, ready);
    return true;
  }
  return cv_.wait_until(lock, *until, ready);
}

bool pool_job::wait_for(std::size_t i, deadline until) const {
  std::unique_lock lock{mu_};
  auto ready = [&] { return slots_[i].state != empty; };
  if (!until) {
    cv_.wait(lock, ready);
    return true;
  }
  return cv_.wait_until(lock, *until, ready);
}

std::optional<std::size_t> pool_job::wait_completed(std::size_t n, deadline until) const {
  std::unique_lock lock{mu_};
  auto ready = [&] { return order_.size() > n; };
  if (!until)
    cv_.wait(lock, ready);
  else if (!cv_.wait_until(lock, *until, ready))
    return std::nullopt;
  return order_[n];
}

bool pool_job::done() const {
  std::lock_guard lock{mu_};
  return order_.size() == slots_.size();
}

bool pool_job::running() const {
  std::lock_guard lock{mu_};
  return started_ && order_.size() < slots_.size();
}

bool pool_job::cancelled() const {
  std::lock_guard lock{mu_};
  return cancelled_;
}

bool pool_job::cancel() {
  {
    std::lock_guard lock{mu_};
    if (cancelled_)
      return true;
    if (started_ || order_.size() == slots_.size())
      return false;
    cancelled_ = true;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      fail_locked(i, task_error{task_errc::cancelled, "", i});
  }
  cv_.notify_all();
  notify();
  return true;
}

void pool_job::when_done(std::function<void()> fn) {
  {
    std::lock_guard lock{mu_};
    if (!finished_) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

bool pool_job::start() {
  std::lock_guard lock{mu_};
  if (cancelled_)
    return false;
  started_ = true;
  return true;
}

bool pool_job::fail_locked(std::size_t i, task_error&& error) {
  if (i >= slots_.size() || slots_[i].state != empty)
    return false;
  auto& kept = errors_.emplace_back(std::move(error));
  slots_[i] = slot{&kept, 0, failed};
  order_.push_back(i);
  return true;
}

pool_job::recorded pool_job::record(std::string block, const std::vector<std::size_t>& tasks,
                                    bool from_slab) {
  recorded r;
  {
    std::lock_guard lock{mu_};
    // A string's bytes move with it unless they sit in its small buffer: keep the block first,
    // then point into it.
    auto& kept = blocks_.emplace_back(std::move(block));
    std::string_view data{kept};
    std::size_t at = 0;
    while (at < data.size()) {
      result_header h;
      if (data.size() - at < sizeof(h)) {
        r.well_formed = false;
        break;
      }
      std::memcpy(&h, data.data() + at, sizeof(h));
      at += sizeof(h);
      if (h.status == static_cast<std::uint8_t>(task_status::values)) {
        std::size_t avail = std::min<std::size_t>(h.size, data.size() - at);
        std::size_t count = h.stride == 0 ? 0 : avail / h.stride;
        if (h.stride == 0 || h.position > tasks.size() || count > tasks.size() - h.position) {
          r.well_formed = false;
          break;
        }
        for (std::size_t k = 0; k < count; ++k) {
          auto index = tasks[h.position + k];
          if (index >= slots_.size() || slots_[index].state != empty)
            continue;
          ++r.count;
          slots_[index] = slot{data.data() + at + k * h.stride, h.stride, succeeded};
          order_.push_back(index);
        }
        if (avail < h.size) {
          r.well_formed = from_slab; // a run cut short by its writer's death: nothing follows
          break;
        }
        at += avail;
        continue;
      }
      if (h.size > data.size() - at || h.position >= tasks.size() || h.status > 3) {
        r.well_formed = false;
        break;
      }
      auto index = tasks[h.position];
      auto bytes = data.substr(at, h.size);
      at += h.size;
      if (index >= slots_.size() || slots_[index].state != empty)
        continue;
      ++r.count;
      auto status = static_cast<task_status>(h.status);
      if (status == task_status::ok) {
        slots_[index] = slot{bytes.data(), h.size, succeeded};
        order_.push_back(index);
        continue;
      }
      auto code = status == task_status::raised       ? task_errc::raised
                  : status == task_status::bad_result ? task_errc::bad_result
                                                      : task_errc::bad_input;
      fail_locked(index, task_error{code, std::string{bytes}, index});
    }
    if (r.count == 0)
      blocks_.pop_back();
  }
  if (r.count != 0)
    cv_.notify_all();
  return r;
}

void pool_job::fail(std::size_t i, task_error error) {
  bool recorded;
  {
    std::lock_guard lock{mu_};
    recorded = fail_locked(i, std::move(error));
  }
  if (recorded)
    cv_.notify_all();
}

void pool_job::fail_rest(task_errc code, const std::string& message) {
  {
    std::lock_guard lock{mu_};
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].state == empty)
        fail_locked(i, task_error{code, message, i});
  }
  cv_.notify_all();
}

bool pool_job::has_outcome(std::size_t i) const {
  std::lock_guard lock{mu_};
  return i < slots_.size() && slots_[i].state != empty;
}

void pool_job::notify() {
  std::size_t done;
  std::size_t before;
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lock{mu_};
    done = order_.size();
    before = reported_;
    reported_ = done;
    if (done == slots_.size() && !finished_) {
      finished_ = true;
      run.swap(callbacks_);
    }
  }
  // A callback that throws must not take the pool's thread with it: it is reported, as Python
  // reports an exception in a thread.
  auto guarded = [](const char* what, auto&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "proctor: a pool's %s callback threw: %s\n", what, e.what());
    } catch (...) {
      std::fprintf(stderr, "proctor: a pool's %s callback threw\n", what);
    }
  };
  if (progress && done != before)
    guarded("progress", [&] { progress(done, slots_.size()); });
  for (auto& fn : run)
    guarded("done", fn);
  if (done == slots_.size()) {
    {
      std::lock_guard lock{mu_};
      settled_ = true;
    }
    cv_.notify_all();
  }
}

} // namespace proctor::detail
