#pragma once

// What the pool and executor tests share: a way for a task to die on request, a gate that holds
// tasks until the test opens it, a log that counts how often tasks ran, and waiting for what the
// pool's thread does. Every wait has a generous upper bound and never stands for an assertion
// about time.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"

namespace pool_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// Generous upper bound for anything a test waits for: a loaded 2-core machine still passes.
inline constexpr std::chrono::seconds patience{60};

/// How die() ends the process it runs in.
enum death : std::int32_t {
  sigsegv = 1, ///< raise(SIGSEGV)
  sigabrt = 2, ///< std::abort()
  sigkill = 3, ///< kill(getpid(), SIGKILL): no handler, no last word
};

/// Ends the calling process (a pool worker) as `how` says, without a core file.
[[noreturn]] inline void die(std::int32_t how) {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  switch (how) {
    case sigsegv:
      ::raise(SIGSEGV);
      break;
    case sigabrt:
      std::abort();
    default:
      ::kill(::getpid(), SIGKILL);
      break;
  }
  for (;;)
    ::pause(); // a signal whose delivery is still on its way
}

/// The signal die(how) ends a process with.
inline int signal_of(std::int32_t how) {
  return how == sigsegv ? SIGSEGV : how == sigabrt ? SIGABRT : SIGKILL;
}

/// Holds tasks until the test opens it: a task waits on `event()` (passed as an argument). The
/// destructor opens it, so that a test that fails half-way does not leave tasks waiting forever:
/// declare it after the pool or executor, so that it opens before they are torn down.
class gate {
 public:
  gate() = default;
  ~gate() { ev_.set(); }
  gate(const gate&) = delete;
  gate& operator=(const gate&) = delete;

  void open() { ev_.set(); }
  [[nodiscard]] const proctor::event& event() const noexcept { return ev_; }

 private:
  proctor::event ev_;
};

/// For a task: waits until `g` opens; throws if it never does within patience.
inline void pass(proctor::event g) {
  if (!g.wait(patience))
    throw std::runtime_error("the gate did not open");
}

/// For a task: appends `record` to the file `path` in one write (O_APPEND: records of several
/// processes never mix), and returns the file's size afterwards.
inline std::size_t append_record(const std::string& path, std::string_view record) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path);
  auto written = ::write(fd, record.data(), record.size());
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  if (written != static_cast<ssize_t>(record.size()))
    throw std::runtime_error("cannot append to " + path);
  return static_cast<std::size_t>(st.st_size);
}

/// How often each 4-byte index occurs in a log that tasks appended their index to.
inline std::map<std::int32_t, int> count_records(const std::string& bytes) {
  std::map<std::int32_t, int> counts;
  for (std::size_t at = 0; at + sizeof(std::int32_t) <= bytes.size(); at += sizeof(std::int32_t)) {
    std::int32_t index = 0;
    std::memcpy(&index, bytes.data() + at, sizeof(index));
    ++counts[index];
  }
  return counts;
}

/// Polls `done` until it holds or `timeout` passes; returns its last answer.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::steady_clock::duration timeout = patience) {
  auto until = clock::now() + timeout;
  for (;;) {
    if (done())
      return true;
    if (clock::now() >= until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
}

/// True if `pid` runs (is neither gone nor a zombie).
inline bool alive(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) == 0 && !proctor::test::is_dead(pid);
}

/// The pid a worker_died error names ("its worker (pid N) died..."), or 0.
inline pid_t pid_in(const proctor::task_error& e) {
  auto at = e.message().find("pid ");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(e.message().c_str() + at + 4));
}

/// 0, 1, ..., n - 1.
inline std::vector<std::int32_t> iota(std::int32_t n) {
  std::vector<std::int32_t> out;
  for (std::int32_t i = 0; i < n; ++i)
    out.push_back(i);
  return out;
}

/// Catch matcher: a task_error with code `c` (and index `i` unless it is -1).
inline auto is_task_error(proctor::task_errc c, long i = -1) {
  return Catch::Predicate<proctor::task_error>(
    [c, i](const proctor::task_error& e) {
      return e.code() == c && (i < 0 || e.index() == static_cast<std::size_t>(i));
    },
    std::string{"a task_error "} + to_string(c) + (i < 0 ? "" : " of task " + std::to_string(i)));
}

} // namespace pool_test
