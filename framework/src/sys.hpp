#pragma once

#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace proctor::detail {

/// How a child ended, decoded from a wait status or a siginfo.
/// The exit code reported when the status was lost: reaped by another waiter, or its zygote died.
inline constexpr int unknown_exitcode = 255;

struct exit_status {
  int exitcode = 0;          ///< n for exit(n), -N for death by signal N.
  bool core_dumped = false;
};

[[nodiscard]] exit_status from_wait_status(int status) noexcept;

/// Throws process_error(system) naming the call and errno.
[[noreturn]] void throw_system_error(const std::string& what, int err);

/// The CLOCK_MONOTONIC deadline `timeout` from now, for the *_clocklock and timed calls;
/// saturating instead of overflowing.
timespec monotonic_deadline(std::chrono::nanoseconds timeout) noexcept;

/// pidfd_open(2); returns an invalid fd and sets errno on failure.
unique_fd open_pidfd(pid_t pid) noexcept;

/// pidfd_send_signal(2); returns 0 or -1 with errno.
int send_signal(int pidfd, int sig) noexcept;

/// Reaps the child behind `pidfd` if it has ended (never blocks).
std::optional<exit_status> try_reap_pidfd(int pidfd);

/// Waits until `fd` is readable or `timeout` passes (nullopt: forever). True if readable.
bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout);

/// How long look_a_while() looks.
inline constexpr std::chrono::microseconds look_span{400};

/// Looks whether `seen()` holds for up to look_span (or until `deadline`, if sooner), giving the
/// processor up between looks (the process waited for may be queued on this one): true as soon
/// as it does. For a wait for another process that is usually short, before the wait that
/// sleeps; only where no third process has work to do meanwhile (see process::join_until()).
template <class Seen>
bool look_a_while(Seen seen, std::chrono::steady_clock::time_point deadline =
                               std::chrono::steady_clock::time_point::max()) {
  using clock = std::chrono::steady_clock;
  auto until = std::min(deadline, clock::now() + look_span);
  for (;;) {
    if (seen())
      return true;
    if (clock::now() >= until)
      return false;
    ::sched_yield();
  }
}

/// What proctor reads from /proc/PID/stat.
struct proc_stat {
  char state = '?';             ///< R, S, D, Z, X...
  long threads = 0;             ///< num_threads
  std::uint64_t start_time = 0; ///< starttime, in clock ticks since boot
};

/// /proc/PID/stat of `pid` (0: the calling process); empty if it cannot be read or parsed.
[[nodiscard]] std::optional<proc_stat> read_proc_stat(pid_t pid) noexcept;

/// The number of threads of the calling process (from /proc), or -1 if unreadable.
[[nodiscard]] int thread_count() noexcept;

/// Throws process_error(multithreaded) unless the caller is single-threaded; `what` says why it
/// must be ("fork refused", ...), and system if the thread count cannot be read.
void require_single_thread(const std::string& what);

/// Flushes std::cout, std::cerr, std::clog and every C stdio stream, so that a fork does not
/// print twice.
void flush_std_streams() noexcept;

/// Gives the calling (new) child the signal state an exec would: caught signals back to their
/// default action, ignored ones still ignored, nothing blocked. The parent's handlers belong to the
/// parent's program (a test runner, a server's graceful shutdown...) and would otherwise make
/// terminate() mean whatever they do. Async-signal-safe.
void reset_signals() noexcept;

/// Who the calling process acts as, and how it is confined: user and group ids (real,
/// effective, saved), supplementary groups, the main thread's capabilities, no_new_privs and
/// seccomp mode (the calling thread's: the kernel keeps them per thread) and resource limits. A
/// zygote forks its children as it was started: one started before the program dropped
/// privileges, or confined itself, must not start any more children.
struct confinement {
  uid_t uids[3] = {};
  gid_t gids[3] = {};
  std::vector<gid_t> groups;
  std::uint32_t caps[6] = {}; ///< Effective, permitted and inheritable sets, two words each.
  int no_new_privs = 0;
  int seccomp = 0;            ///< The mode: a filter added to a filter is not seen.
  std::uint64_t limits[2 * RLIM_NLIMITS] = {}; ///< Soft and hard limit of each resource.
  friend bool operator==(const confinement&, const confinement&) = default;
};
[[nodiscard]] confinement current_confinement() noexcept;
/// The same user, groups and capabilities (the rest may differ).
[[nodiscard]] bool same_identity(const confinement& a, const confinement& b) noexcept;

/// Signal and thread facts of the calling process, from one read of /proc/self/status.
struct process_facts {
  int threads = -1;                 ///< -1: unreadable.
  std::uint64_t caught = ~std::uint64_t{0};  ///< SigCgt (all set when unreadable).
  std::uint64_t ignored = ~std::uint64_t{0}; ///< SigIgn.
};
[[nodiscard]] process_facts read_process_facts() noexcept;

/// reset_signals() from facts read in the parent before fork. Async-signal-safe.
void reset_signals(const process_facts& parent) noexcept;

/// Unblocks every signal. Async-signal-safe.
void unblock_all_signals() noexcept;

/// Points the calling child's stdin at /dev/null, as multiprocessing does: a child in its own
/// process group that read the terminal would be stopped by SIGTTIN. Async-signal-safe.
void stdin_from_devnull() noexcept;

/// Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so that no framework descriptor
/// ever lands there and a child's stdout never is, say, the zygote's channel.
void ensure_std_fds() noexcept;

/// A pidfd for our just-started child `pid`. If the kernel already reaped it (SIGCHLD ignored
/// here), an invalid fd: it ended and its status is lost. On any other failure the child is
/// killed and reaped, and process_error(system) thrown: never a child nobody tracks.
unique_fd hold_child(pid_t pid);

/// Kills and reaps our own child `pid` after a failed start, so that it neither runs untracked
/// nor stays a zombie.
void discard_child(pid_t pid) noexcept;

/// Makes the calling child die with its parent: PR_SET_PDEATHSIG(SIGKILL), then the check against a
/// parent that died before the prctl took effect. Async-signal-safe; _exits if the parent is gone.
void die_with_parent(pid_t expected_parent) noexcept;

} // namespace proctor::detail
