#include "proctor/detail/pipe_ends.hpp"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "proctor/shm_error.hpp"
#include "segment_name.hpp"

namespace proctor::detail {

/// One holder of one end, in shared memory. pid 0: free.
struct pipe_ends::slot {
  std::atomic<std::int32_t> pid;
  std::atomic<std::int32_t> left;  ///< The last holder that left this slot: it did take hold.
  std::atomic<std::uint64_t> start_time;
};

static_assert(std::atomic<std::int32_t>::is_always_lock_free);

namespace {

constexpr std::size_t table_size = 2 * pipe_ends::end_slots * 16;

bool is_holder_alive(std::int32_t pid, std::uint64_t start_time) {
  return pid != 0 && !run_ended(pid, start_time);
}

} // namespace

std::shared_ptr<pipe_ends> pipe_ends::create() {
  static_assert(sizeof(slot) <= 16);
  return std::make_shared<pipe_ends>(shared_segment::create(table_size));
}

std::shared_ptr<pipe_ends> pipe_ends::open(const segment_handle& handle) {
  auto segment = shared_segment::open(handle);
  if (segment.size() < table_size)
    throw shm_error(shm_errc::invalid, "pipe: segment " + handle.name + " is no pipe");
  return std::make_shared<pipe_ends>(std::move(segment));
}

pipe_ends::slot* pipe_ends::slots(int side) const {
  return static_cast<slot*>(segment_.data()) + side * end_slots;
}

namespace {

/// The ends this process holds, for share_with_child().
struct held_ends {
  std::mutex mu;
  std::vector<std::pair<std::weak_ptr<pipe_ends>, int>> ends;
};

held_ends& local_ends() {
  static held_ends* instance = new held_ends; // used from atexit paths: never destroyed
  return *instance;
}

} // namespace

bool pipe_ends::join(int side) {
  auto self = current_run();
  {
    auto& local = local_ends();
    std::lock_guard guard{local.mu};
    std::erase_if(local.ends, [](const auto& e) { return e.first.expired(); });
    local.ends.emplace_back(weak_from_this(), side);
  }
  return join_as(self.pid, self.start_time, side);
}

bool pipe_ends::join_as(pid_t pid, std::uint64_t start_time, int side) {
  auto* s = slots(side);
  for (int i = 0; i < end_slots; ++i)
    if (s[i].pid.load() == pid && s[i].start_time.load() == start_time)
      return true;
  for (int i = 0; i < end_slots; ++i) {
    std::int32_t seen = s[i].pid.load();
    if (seen > 0 && is_holder_alive(seen, s[i].start_time.load()))
      continue;
    if (seen < 0 && !run_ended(-seen))
      continue;
    // Claim: the start time is written before the pid, under a pid nobody else can hold.
    if (s[i].pid.compare_exchange_strong(seen, -pid)) {
      s[i].left.store(0);
      s[i].start_time.store(start_time);
      s[i].pid.store(pid);
      return true;
    }
  }
  return false;
}

namespace {

std::atomic<pid_t> cached_pid{0};

void forget_cached_pid() {
  cached_pid.store(0, std::memory_order_relaxed);
}

} // namespace

pid_t pipe_ends::current_pid() noexcept {
  pid_t pid = cached_pid.load(std::memory_order_relaxed);
  if (pid != 0)
    return pid;
  static const bool hooked = [] { return ::pthread_atfork(nullptr, nullptr, forget_cached_pid) == 0; }();
  (void)hooked;
  pid = ::getpid();
  cached_pid.store(pid, std::memory_order_relaxed);
  return pid;
}

pipe_ends::end_list*& pipe_ends::collector() noexcept {
  thread_local end_list* current = nullptr;
  return current;
}

pipe_ends::end_list pipe_ends::held_here() {
  end_list mine;
  auto& local = local_ends();
  std::lock_guard guard{local.mu};
  for (auto& [weak, side] : local.ends)
    if (auto ends = weak.lock())
      mine.emplace_back(std::move(ends), side);
  return mine;
}

void pipe_ends::join_all(const end_list& ends) {
  for (auto& [e, side] : ends)
    if (!e->join(side))
      throw shm_error(shm_errc::misuse, "pipe: more than 32 live processes hold one end");
}

bool pipe_ends::took_hold(pid_t pid, int side) const {
  auto* s = slots(side);
  for (int i = 0; i < end_slots; ++i)
    if (s[i].pid.load() == pid || s[i].left.load() == pid)
      return true;
  return false;
}

void pipe_ends::await_holder(pid_t child, int child_pidfd, const end_list& ends) {
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    bool all = true;
    for (auto& [e, side] : ends)
      all = all && e->took_hold(child, side);
    if (all)
      return;
    pollfd p{child_pidfd, POLLIN, 0};
    if (child_pidfd < 0 || ::poll(&p, 1, 0) != 0)
      return; // it has ended (or cannot be watched): it holds nothing
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

void pipe_ends::leave(int side) {
  {
    auto& local = local_ends();
    std::lock_guard guard{local.mu};
    std::erase_if(local.ends, [&](const auto& e) {
      return e.second == side && e.first.lock().get() == this;
    });
  }
  auto self = current_run();
  auto* s = slots(side);
  for (int i = 0; i < end_slots; ++i) {
    std::int32_t mine = self.pid;
    if (s[i].pid.load() == mine && s[i].start_time.load() == self.start_time) {
      s[i].left.store(mine);
      s[i].pid.compare_exchange_strong(mine, 0);
    }
  }
}

bool pipe_ends::held(int side) const {
  auto* s = slots(side);
  for (int i = 0; i < end_slots; ++i) {
    auto pid = s[i].pid.load();
    if (pid < 0) { // being claimed right now, unless the claimer died mid-claim
      if (!run_ended(-pid))
        return true;
      continue;
    }
    if (is_holder_alive(pid, s[i].start_time.load()))
      return true;
  }
  return false;
}

} // namespace proctor::detail
