#include "sys.hpp"

#include <time.h>

#include <algorithm>

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string_view>
#include <thread>
#include <typeinfo>

#if defined(__GLIBCXX__)
#include <ext/stdio_sync_filebuf.h>
#endif

#include "proctor/process_error.hpp"

namespace proctor::detail {

exit_status from_wait_status(int status) noexcept {
  if (WIFEXITED(status))
    return {WEXITSTATUS(status), false};
  if (WIFSIGNALED(status))
    return {-WTERMSIG(status), WCOREDUMP(status) != 0};
  return {-1, false};
}

void throw_system_error(const std::string& what, int err) {
  throw process_error(process_errc::system, what + ": " + std::strerror(err));
}

unique_fd open_pidfd(pid_t pid) noexcept {
  return unique_fd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
}

int send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::optional<exit_status> try_reap_pidfd(int pidfd) {
  siginfo_t info{};
  for (;;) {
    int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                      WEXITED | WNOHANG);
    if (rc == 0)
      break;
    if (errno == EINTR)
      continue;
    if (errno == ECHILD) // reaped by someone else (a SIGCHLD handler that waits for any child)
      return exit_status{unknown_exitcode, false};
    throw_system_error("waitid", errno);
  }
  if (info.si_pid == 0)
    return std::nullopt;
  switch (info.si_code) {
    case CLD_EXITED:
      return exit_status{info.si_status, false};
    case CLD_DUMPED:
      return exit_status{-info.si_status, true};
    default:
      return exit_status{-info.si_status, false};
  }
}

bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
  for (;;) {
    int ms = -1;
    if (timeout) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
      ms = left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0)
      return true;
    if (rc == 0)
      return false;
    if (errno != EINTR)
      throw_system_error("poll", errno);
  }
}

std::optional<proc_stat> read_proc_stat(pid_t pid) noexcept {
  // Plain system calls: this runs on every spawn and every liveness check.
  char path[32];
  if (pid > 0)
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  else
    std::snprintf(path, sizeof path, "/proc/self/stat");
  unique_fd fd{::open(path, O_RDONLY | O_CLOEXEC)};
  if (!fd)
    return std::nullopt;
  char buf[1024];
  std::size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf + got, sizeof buf - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<std::size_t>(n);
    if (got == sizeof buf - 1)
      break;
  }
  std::string_view line{buf, got};
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  line.remove_prefix(close + 1);
  // fields[0] is field 3 (the state), fields[17] field 20 (num_threads), fields[19] field 22
  // (starttime).
  std::string_view fields[20];
  std::size_t count = 0;
  while (count < 20) {
    auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos)
      break;
    line.remove_prefix(start);
    auto end = line.find(' ');
    fields[count++] = line.substr(0, end);
    if (end == std::string_view::npos)
      break;
    line.remove_prefix(end);
  }
  if (count < 20 || fields[0].empty())
    return std::nullopt;
  proc_stat out;
  out.state = fields[0][0];
  auto number = [](std::string_view text, auto& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
  };
  if (!number(fields[17], out.threads) || !number(fields[19], out.start_time))
    return std::nullopt;
  return out;
}

int thread_count() noexcept {
  // procfs counts a task directory's links as its threads plus two: one system call.
  struct stat task{};
  if (::stat("/proc/self/task", &task) == 0 && task.st_nlink > 2)
    return static_cast<int>(task.st_nlink - 2);
  auto st = read_proc_stat(0);
  return st ? static_cast<int>(st->threads) : -1;
}

void require_single_thread(const std::string& what) {
  int n = thread_count();
  // A thread that was just joined can stay counted for a moment after pthread_join() returned
  // (the kernel removes it a little later): look again briefly before refusing.
  for (int retry = 0; n > 1 && retry < 50; ++retry) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    n = thread_count();
  }
  if (n < 0)
    throw_system_error(what + ": cannot read the thread count from /proc/self/stat", errno);
  if (n != 1)
    throw process_error(process_errc::multithreaded,
                        what + ": this process runs " + std::to_string(n)
                          + " threads, and a forked copy would inherit their locks held");
}

namespace {

/// Whether `out` has no buffer of its own but writes straight into a C stdio stream, as
/// libstdc++'s std::cout, cerr and clog do unless sync_with_stdio(false) was called: the stdio
/// flush then flushes it too. Asking saves a forked child from faulting in the iostream code only
/// to find nothing to flush (about a tenth of process_start).
bool writes_through_stdio(const std::ostream& out) noexcept {
#if defined(__GLIBCXX__)
  const std::streambuf* buffer = out.rdbuf();
  return buffer == nullptr || typeid(*buffer) == typeid(__gnu_cxx::stdio_sync_filebuf<char>);
#else
  (void)out;
  return false;
#endif
}

} // namespace

void flush_std_streams() noexcept {
  try {
    for (std::ostream* out : {&std::cout, &std::cerr, &std::clog})
      if (!writes_through_stdio(*out))
        out->flush();
  } catch (...) {
  }
  std::fflush(nullptr);
}

namespace {

/// The hexadecimal mask after `field` ("SigCgt:") in /proc/self/status text, or all ones if absent.
std::uint64_t status_mask(const char* text, const char* field) noexcept {
  const char* at = std::strstr(text, field);
  if (at == nullptr)
    return ~std::uint64_t{0};
  at += std::strlen(field);
  while (*at == ' ' || *at == '\t')
    ++at;
  std::uint64_t mask = 0;
  for (;; ++at) {
    char c = *at;
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0)
      return mask;
    mask = mask << 4 | static_cast<std::uint64_t>(digit);
  }
}

} // namespace

confinement current_confinement() noexcept {
  confinement out;
  ::getresuid(&out.uids[0], &out.uids[1], &out.uids[2]);
  ::getresgid(&out.gids[0], &out.gids[1], &out.gids[2]);
  int n = ::getgroups(0, nullptr);
  if (n > 0) {
    try {
      out.groups.resize(static_cast<std::size_t>(n));
      n = ::getgroups(n, out.groups.data());
      out.groups.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    } catch (...) {
      out.groups.clear(); // compared as no groups: at worst a zygote more
    }
  }
  // The main thread's: libcap changes them per thread, and a thread with fewer must not make
  // every start from another replace the zygote.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, ::getpid()};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) == 0) {
    for (int i = 0; i < 2; ++i) {
      out.caps[i * 3] = data[i].effective;
      out.caps[i * 3 + 1] = data[i].permitted;
      out.caps[i * 3 + 2] = data[i].inheritable;
    }
  }
  out.no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  out.seccomp = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  for (int resource = 0; resource < RLIM_NLIMITS; ++resource) {
    rlimit limit{};
    if (::getrlimit(static_cast<__rlimit_resource_t>(resource), &limit) == 0) {
      // Not the soft limit on CPU time: a pool's worker moves it before each task (a budget of
      // its own CPU time, which a new process starts without).
      out.limits[2 * resource] = resource == RLIMIT_CPU ? 0 : limit.rlim_cur;
      out.limits[2 * resource + 1] = limit.rlim_max;
    }
  }
  return out;
}

bool same_identity(const confinement& a, const confinement& b) noexcept {
  return std::equal(std::begin(a.uids), std::end(a.uids), std::begin(b.uids))
         && std::equal(std::begin(a.gids), std::end(a.gids), std::begin(b.gids))
         && a.groups == b.groups
         && std::equal(std::begin(a.caps), std::end(a.caps), std::begin(b.caps));
}

process_facts read_process_facts() noexcept {
  process_facts out;
  char text[4096];
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return out;
  ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  if (n <= 0)
    return out;
  text[n] = '\0';
  out.caught = status_mask(text, "SigCgt:");
  out.ignored = status_mask(text, "SigIgn:");
  if (const char* t = std::strstr(text, "\nThreads:"))
    out.threads = std::atoi(t + 10);
  return out;
}

void reset_signals(const process_facts& parent) noexcept {
  for (int sig = 1; sig < NSIG && sig <= 64; ++sig) {
    std::uint64_t bit = std::uint64_t{1} << (sig - 1);
    // SIGCHLD ignored would make the kernel reap the child's own children behind its back.
    if ((parent.caught & bit) || (sig == SIGCHLD && (parent.ignored & bit)))
      ::signal(sig, SIG_DFL);
  }
  unblock_all_signals();
}

// A child's first steps (unblock_all_signals(), stdin_from_devnull(), die_with_parent()) go
// through syscall() rather than each libc wrapper in turn: a forked child faults in every page
// of code it runs for the first time, and one wrapper's page costs less than six.

void unblock_all_signals() noexcept {
  std::uint64_t none = 0; // the kernel's signal set: one bit for each of 64 signals
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
}

void reset_signals() noexcept {
  // Which signals have handlers (and whether SIGCHLD is ignored) is read in one go from
  // /proc/self/status rather than asked signal by signal: 3 system calls instead of 64.
  reset_signals(read_process_facts());
}

void stdin_from_devnull() noexcept {
  char path[] = "/dev/null"; // on the stack: no page of read-only data to fault in
  auto fd = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0)
    return;
  if (fd != STDIN_FILENO) {
    ::syscall(SYS_dup3, fd, STDIN_FILENO, 0); // dup2 is not a system call everywhere
    ::syscall(SYS_close, fd);
  } else {
    ::syscall(SYS_fcntl, fd, F_SETFD, 0);
  }
}

void ensure_std_fds() noexcept {
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) < 0)
      ::open("/dev/null", O_RDWR); // takes the lowest free number: this one
}

unique_fd hold_child(pid_t pid) {
  unique_fd fd = open_pidfd(pid);
  if (fd || errno == ESRCH)
    return fd;
  int err = errno;
  discard_child(pid);
  throw_system_error("pidfd_open", err);
}

void discard_child(pid_t pid) noexcept {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void die_with_parent(pid_t expected_parent) noexcept {
  ::syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (static_cast<pid_t>(::syscall(SYS_getppid)) != expected_parent)
    ::_exit(1);
}

/// The monotonic-clock deadline `timeout` from now, saturating instead of overflowing.
timespec monotonic_deadline(std::chrono::nanoseconds timeout) noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  constexpr auto max_wait = std::chrono::hours(24 * 365 * 100);
  auto wait = std::clamp<std::chrono::nanoseconds>(timeout, std::chrono::nanoseconds::zero(),
                                                  max_wait);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait);
  timespec at{};
  at.tv_sec = now.tv_sec + static_cast<time_t>(secs.count());
  at.tv_nsec = now.tv_nsec + static_cast<long>((wait - secs).count());
  if (at.tv_nsec >= 1'000'000'000) {
    at.tv_sec += 1;
    at.tv_nsec -= 1'000'000'000;
  }
  return at;
}

} // namespace proctor::detail
