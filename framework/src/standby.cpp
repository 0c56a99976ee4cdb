#include "standby.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "futex.hpp"
#include "mailbox.hpp"
#include "segment_name.hpp"
#include "sys.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

void init_life(actor_cell& cell) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&cell.life, &attr);
  pthread_mutexattr_destroy(&attr);
}

bool hold_life(actor_cell& cell, std::chrono::milliseconds patience) {
  timespec at = monotonic_deadline(patience);
  int err = ::pthread_mutex_clocklock(&cell.life, CLOCK_MONOTONIC, &at);
  if (err == EOWNERDEAD) { // the incarnation before this one: it held it until its end
    ::pthread_mutex_consistent(&cell.life);
    return true;
  }
  return err == 0;
}

namespace {

/// The path in a line of /proc/self/maps whose path starts at `path_offset` (empty: anonymous).
std::string_view path_at(std::string_view line, int path_offset) {
  auto path = line.substr(static_cast<std::size_t>(path_offset));
  while (!path.empty() && (path.back() == '\n' || path.back() == ' '))
    path.remove_suffix(1);
  return path;
}

/// Maps now the pages this process is about to touch once it takes over. A fork maps none of
/// its parent's file pages (code: each is a fault at first touch) and copies its writable pages
/// at first write. Paid here, while the standby waits, the takeover finds them mapped.
/// Only the writable pages and the code of the program (and of the file proctor's code is in, if
/// that is another), not every library's: the incarnation that ends unmaps what it mapped, in the
/// kernel, on the CPU it ran on, and a kernel that does not preempt its own code (the usual
/// setting, and this machine's) runs nothing else there meanwhile. With all of libc, libstdc++
/// and CAF mapped, the median takeover was ~25% quicker, but a third of them waited ~250 us for
/// the previous incarnation's teardown (crash to answer, 1,000 kills, three runs: median 113-117
/// -> 145-169 us, 90th percentile 355-378 -> 257-284, 99th 430-469 -> 354-394, mean 183-195 ->
/// 171-188).
void prefault_mappings() {
#ifdef MADV_POPULATE_READ
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr)
    return;
  char program[512] = {};
  auto n = ::readlink("/proc/self/exe", program, sizeof program - 1);
  std::string_view program_path{program, n > 0 ? static_cast<std::size_t>(n) : 0};
  const auto own_code = reinterpret_cast<unsigned long>(&prefault_mappings);
  std::string own_path; // the file this function is in: the program, or a shared proctor
  struct mapping {
    unsigned long from, to;
    char perms[5];
    std::string path;
  };
  std::vector<mapping> all;
  char line[512];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    if (std::strchr(line, '\n') == nullptr) { // a path too long for the buffer: skip the line
      int c;
      while ((c = std::fgetc(maps)) != EOF && c != '\n') {
      }
      continue;
    }
    mapping m{};
    int path_offset = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &m.from, &m.to, m.perms, &path_offset) < 3)
      continue;
    m.path = path_at(line, path_offset);
    if (m.from <= own_code && own_code < m.to)
      own_path = m.path;
    all.push_back(std::move(m));
  }
  std::fclose(maps);
  for (const auto& m : all) {
    std::string_view path{m.path};
    if (m.perms[0] != 'r' || m.perms[3] != 'p' || path.starts_with("[v") || path.starts_with("/dev/"))
      continue; // not readable, shared (the mailbox), or the kernel's own pages
    bool write = m.perms[1] == 'w';
    auto len = m.to - m.from;
    if (write && len > (std::size_t{4} << 20))
      continue; // a large heap: only what is used is worth copying, and that is not known here
    if (!write && path != program_path && path != own_path)
      continue; // another library's code: see above
    ::madvise(reinterpret_cast<void*>(m.from), len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
#endif
}

/// prefault_mappings(), which may run out of memory under the child's limits: a standby that
/// cannot map ahead takes over all the same.
void prefault() noexcept {
  try {
    prefault_mappings();
  } catch (...) {
  }
}

/// sched_setattr's argument (linux/sched/types.h), for the fair class's slice.
struct slice_attr {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime; ///< SCHED_OTHER: the slice asked for, in ns (0: the default).
  std::uint64_t sched_deadline;
  std::uint64_t sched_period;
};

/// Asks for a slice of `ns` (0: the default) for this thread, keeping its policy and nice value.
/// A task woken with a shorter slice than the running one's may preempt it (Linux 6.12 and
/// later; elsewhere, or refused, nothing changes).
void ask_slice(std::uint64_t ns) {
#ifdef SYS_sched_getattr
  slice_attr a{};
  if (::syscall(SYS_sched_getattr, 0, &a, static_cast<unsigned>(sizeof a), 0u) != 0)
    return;
  if (a.sched_policy != SCHED_OTHER)
    return; // batch, idle or real-time, as someone chose: left alone
  a.size = sizeof a;
  a.sched_flags &= 0x01; // SCHED_FLAG_RESET_ON_FORK, as it was; nothing else asked for
  a.sched_runtime = ns;
  (void)::syscall(SYS_sched_setattr, 0, &a, 0u);
#endif
}

/// The running incarnation's process, pinned by a pidfd, if the cell still names it (its pid and
/// start time); none otherwise.
unique_fd pin_incarnation(const actor_cell& cell, pid_t& pid) {
  // The pid and start time are written one after the other: read until a pair holds still.
  for (int tries = 0; tries < 100; ++tries) {
    pid = cell.pid.load(std::memory_order_acquire);
    auto start = cell.start_time.load(std::memory_order_acquire);
    if (pid <= 0 || cell.pid.load(std::memory_order_acquire) != pid) {
      ::usleep(100);
      continue;
    }
    if (auto pinned = pin_run(pid, start); pinned.run == run_check::running)
      return std::move(pinned.fd);
    ::usleep(100);
  }
  return {};
}

/// True if the pinned process `pid` has ended, or is ending: its pidfd is readable, or the kernel
/// has marked it exiting (PF_EXITING, set before it releases its robust locks). A process that
/// released `life` and lives on (it called exec) is not ending.
bool ending(const unique_fd& pinned, pid_t pid) {
  pollfd ended{pinned.get(), POLLIN, 0};
  if (::poll(&ended, 1, 0) == 1)
    return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr)
    return ::poll(&ended, 1, 0) == 1; // gone meanwhile (reaped: then its pidfd says so)
  char buf[1024];
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the name (which may hold spaces and parentheses): the flags are the 9th field.
  const char* p = std::strrchr(buf, ')');
  unsigned long flags = 0;
  if (p == nullptr
      || std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
    return false;
  constexpr unsigned long pf_exiting = 0x4;
  return (flags & pf_exiting) != 0;
}

} // namespace

bool stand_by(actor_cell& cell) {
  prefault();
  // The incarnation it stands by for: the one running now (it may take over from no other).
  pid_t pid = 0;
  unique_fd pinned = pin_incarnation(cell, pid);
  // The kernel wakes the standby from the dying process, on that process's CPU as often as not,
  // where its teardown runs for hundreds of microseconds: with a short slice, the standby takes
  // the CPU from it at once.
  ask_slice(100'000);
  cell.standby_ready.fetch_add(1, std::memory_order_release);
  futex_wake(cell.standby_ready);
  int err = ::pthread_mutex_lock(&cell.life);
  // Whichever it decides, the supervisor waits for the word (supervisor_actor::on_exit_of()).
  bool held = err == 0 || err == EOWNERDEAD;
  auto decline = [&cell, held] {
    if (held)
      ::pthread_mutex_unlock(&cell.life);
    ask_slice(0);
    cell.standby.store(standby_declined, std::memory_order_release);
    futex_wake(cell.standby);
    return false;
  };
  // Free without a death (the incarnation never held it, or the cell was scribbled on), or not
  // to be had: not a takeover.
  if (err != EOWNERDEAD)
    return decline();
  ::pthread_mutex_consistent(&cell.life);
  // Only the death of the process it stood by for (not an exec, not a scribbled lock word), and
  // only a death without a word, between two messages: an actor that ended on its own recorded
  // why; one that caught a fatal signal said so; a message in flight is the supervisor's to count
  // (and, after enough crashes, to move aside). Then only if the supervisor allowed it ahead.
  if (!pinned || !ending(pinned, pid))
    return decline();
  auto allowed = static_cast<std::uint32_t>(standby_allowed);
  if (!has_ended(cell) && cell.state.load(std::memory_order_acquire) == cell_running
      && cell.in_flight_pos.load(std::memory_order_acquire) == 0
      && cell.fatal_signal.load(std::memory_order_acquire) == 0
      && cell.standby.compare_exchange_strong(allowed, standby_taken, std::memory_order_acq_rel)) {
    futex_wake(cell.standby);
    return true;
  }
  return decline();
}

void end_takeover() {
  ask_slice(0);
}

void take_over(actor_cell& cell) {
  // As the supervisor's restart does (supervisor_actor::start()): the ended incarnation's reason
  // stays for late watchers; the supervisor adds the wait status to its crash report.
  auto why = recorded_reason(cell);
  cell.prev_exit_kind = static_cast<std::uint32_t>(why.kind);
  cell.prev_exit_code = why.code;
  set_field(cell.prev_exit_detail, why.detail);
  cell.incarnation.fetch_add(1, std::memory_order_acq_rel);
  cell.fatal_signal.store(0);
  cell.kill_requested.store(0);
  cell.sleeping.store(0);
  cell.handler_since.store(0);
  cell.finished.store(0);
  cell.pid.store(0);
  cell.state.store(cell_starting, std::memory_order_release);
}

} // namespace proctor::detail
