#pragma once

// What the supervisor tests share: the members of the test trees (actors that tell the test about
// their init and their end, and misbehave on request), the messages they understand, and helpers
// that wait for what a supervisor does. Every wait has a generous upper bound and never stands for
// an assertion about time.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

/// What a member of a test tree tells the test: `event` is "init-begin" (its init started),
/// "init" (its init is about to return), "exit" (its on_exit runs; detail: the reason) or
/// "exit-done" (a slow on_exit finished).
struct sup_note {
  std::string event;
  std::string tag;
  std::int32_t pid = 0;
  std::string detail;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_note& x) {
  return f(caf::meta::type_name("sup_note"), x.event, x.tag, x.pid, x.detail);
}
PROCTOR_MESSAGE(sup_note, "test.sup.note");

/// Every member answers with its pid.
struct sup_pid_query {};
PROCTOR_MESSAGE(sup_pid_query, "test.sup.pid_query");

/// Makes the incarnation whose pid is `pid` misbehave (`how`, a sup_test::how); pid 0: whichever
/// incarnation handles it, every time (a poison message). Pinning a crash to one pid keeps the
/// crash from repeating when the next incarnation gets the same message again.
struct sup_crash {
  std::int32_t pid = 0;
  std::int32_t how = 0;
  std::string text;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_crash& x) {
  return f(caf::meta::type_name("sup_crash"), x.pid, x.how, x.text);
}
PROCTOR_MESSAGE(sup_crash, "test.sup.crash");

/// A unit of work: the member reports it to its observer as a sup_done.
struct sup_job {
  std::int32_t id = 0;
};
PROCTOR_MESSAGE(sup_job, "test.sup.job");

/// A unit of work that takes `ms` milliseconds, then is reported like a sup_job.
struct sup_slow_job {
  std::int32_t id = 0;
  std::int32_t ms = 0;
};
PROCTOR_MESSAGE(sup_slow_job, "test.sup.slow_job");

struct sup_done {
  std::string tag;
  std::int32_t id = 0;
  std::int32_t pid = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_done& x) {
  return f(caf::meta::type_name("sup_done"), x.tag, x.id, x.pid);
}
PROCTOR_MESSAGE(sup_done, "test.sup.done");

namespace sup_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// Generous upper bound for anything a test waits for: a loaded 2-core machine still passes.
inline constexpr std::chrono::seconds patience{60};

/// What a sup_crash does.
enum how : std::int32_t {
  throw_exception = 0, ///< throw std::runtime_error(text)
  segfault = 1,        ///< print text on stderr, then SIGSEGV
  quit_normal = 2,     ///< self.quit(): reason normal
  quit_shutdown = 3,   ///< self.quit(shutdown)
  hang = 4,            ///< sleep a minute inside the handler
  spin = 5,            ///< burn CPU until something stops it
  allocate = 6,        ///< allocate 8 GiB
};

/// Options of a member.
enum member_flags : std::int32_t {
  slow_init = 1,          ///< init sleeps 300 ms between init-begin and init
  block_sigterm = 2,      ///< init blocks SIGTERM (sigprocmask): only SIGKILL ends it
  fork_grandchild = 4,    ///< init forks a plain child that pause()s forever
  process_grandchild = 8, ///< init starts a proctor::process that sleeps ten minutes
  slow_exit = 16,         ///< on_exit sleeps 3 s, then says exit-done
  session_grandchild = 32, ///< init forks a child that leaves for a session of its own, pause()s
  own_stderr = 64,         ///< init points its stderr at /dev/null: its supervisor's pipe closes
};

inline void no_core_file() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

inline std::int32_t my_pid() { return static_cast<std::int32_t>(::getpid()); }

/// Misbehaves as `c` says (if `c` is meant for this incarnation).
inline void misbehave(proctor::actor& self, const sup_crash& c) {
  if (c.pid != 0 && c.pid != my_pid())
    return;
  switch (c.how) {
    case throw_exception:
      throw std::runtime_error(c.text);
    case segfault:
      std::fprintf(stderr, "%s\n", c.text.c_str());
      ::raise(SIGSEGV);
      break;
    case quit_normal:
      self.quit();
      break;
    case quit_shutdown:
      self.quit({proctor::exit_kind::shutdown, 0, false, "asked to"});
      break;
    case hang:
      for (int i = 0; i < 60; ++i)
        std::this_thread::sleep_for(1s);
      break;
    case spin: {
      volatile std::uint64_t n = 0;
      for (;;)
        n = n + 1;
    }
    case allocate: {
      std::size_t size = std::size_t{8} << 30;
      auto* big = new char[size];
      asm volatile("" : : "r"(big) : "memory"); // the allocation escapes: not optimized away
      big[size - 1] = 1;
      std::fprintf(stderr, "allocated %zu bytes\n", size);
      delete[] big;
      break;
    }
    default:
      break;
  }
}

/// A member of a test tree: tells `observer` about its init and its end, reports jobs, answers
/// sup_pid_query and misbehaves on sup_crash.
class member {
 public:
  member(proctor::actor& self, proctor::actor_ref observer, std::string tag, std::int32_t flags)
    : self_(self), observer_(std::move(observer)), tag_(std::move(tag)), flags_(flags) {}

  void init() {
    no_core_file();
    note("init-begin");
    if (flags_ & slow_init)
      std::this_thread::sleep_for(300ms);
    if (flags_ & own_stderr) {
      int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    if (flags_ & block_sigterm) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM);
      ::sigprocmask(SIG_BLOCK, &set, nullptr);
    }
    std::int32_t grandchild = 0;
    if (flags_ & fork_grandchild) {
      pid_t pid = ::fork();
      if (pid == 0) {
        for (;;)
          ::pause();
      }
      grandchild = static_cast<std::int32_t>(pid);
    }
    if (flags_ & session_grandchild) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::setsid(); // out of the member's process group: a signal to the group misses it
        for (;;)
          ::pause();
      }
      grandchild = static_cast<std::int32_t>(pid);
    }
    if (flags_ & process_grandchild) {
      grandchild_ = std::make_unique<proctor::process>(
        proctor::process::options{.name = "grandchild", .daemon = true},
        proctor::entry<proctor::test::probe_sleep_ms>, 600'000);
      grandchild_->start();
      grandchild = static_cast<std::int32_t>(grandchild_->pid().value_or(0));
    }
    note("init", std::to_string(grandchild));
  }

  proctor::behavior make_behavior() {
    return {[](const sup_pid_query&) { return my_pid(); },
            [this](const sup_job& j) { (void)self_.send(observer_, sup_done{tag_, j.id, my_pid()}); },
            [this](const sup_slow_job& j) {
              std::this_thread::sleep_for(std::chrono::milliseconds(j.ms));
              (void)self_.send(observer_, sup_done{tag_, j.id, my_pid()});
            },
            [this](const sup_crash& c) { misbehave(self_, c); }};
  }

  void on_exit(const proctor::exit_reason& why) {
    note("exit", to_string(why));
    if (flags_ & slow_exit) {
      std::this_thread::sleep_for(3s);
      note("exit-done");
    }
  }

 private:
  void note(std::string event, std::string detail = {}) {
    (void)self_.send(observer_, sup_note{std::move(event), tag_, my_pid(), std::move(detail)});
  }

  proctor::actor& self_;
  proctor::actor_ref observer_;
  std::string tag_;
  std::int32_t flags_;
  std::unique_ptr<proctor::process> grandchild_;
};

/// A member whose init fails while the file `marker` exists: its restarts fail on demand.
class fragile {
 public:
  fragile(proctor::actor& self, proctor::actor_ref observer, std::string tag, std::string marker)
    : self_(self), observer_(std::move(observer)), tag_(std::move(tag)), marker_(std::move(marker)) {}

  void init() {
    no_core_file();
    if (std::filesystem::exists(marker_))
      throw std::runtime_error("refusing to start: " + marker_ + " exists");
    (void)self_.send(observer_, sup_note{"init", tag_, my_pid(), {}});
  }

  proctor::behavior make_behavior() {
    return {[](const sup_pid_query&) { return my_pid(); }};
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref observer_;
  std::string tag_;
  std::string marker_;
};

/// A function actor for simple_one_for_one templates: the template gives observer and prefix,
/// start_child appends n. Its tag is "<prefix>-<n>".
inline proctor::behavior numbered(proctor::actor& self, proctor::actor_ref observer,
                                  std::string prefix, std::int32_t n) {
  no_core_file();
  auto tag = prefix + "-" + std::to_string(n);
  (void)self.send(observer, sup_note{"init", tag, my_pid(), {}});
  return {[](const sup_pid_query&) { return my_pid(); },
          [&self, observer, tag](const sup_job& j) {
            (void)self.send(observer, sup_done{tag, j.id, my_pid()});
          },
          [&self](const sup_crash& c) { misbehave(self, c); }};
}

/// Stops a supervisor at the end of a scope, however the test leaves it (a failed REQUIRE too), so
/// that one failure does not leave processes behind for the tests after it.
class stop_at_exit {
 public:
  explicit stop_at_exit(proctor::actor_ref sup) : sup_(std::move(sup)) {}
  ~stop_at_exit() {
    if (sup_)
      (void)proctor::stop_supervisor(sup_, patience); // at once if it has ended already
  }
  stop_at_exit(const stop_at_exit&) = delete;
  stop_at_exit& operator=(const stop_at_exit&) = delete;

 private:
  proctor::actor_ref sup_;
};

// -- specs ---------------------------------------------------------------------------------------

/// `s` with shutdown `how`.
inline proctor::child_spec with_shutdown(proctor::child_spec s, proctor::shutdown_spec how) {
  s.shutdown = how;
  return s;
}

inline proctor::child_spec member_spec(const std::string& id, const proctor::actor_ref& observer,
                                       std::int32_t flags = 0) {
  proctor::child_spec s;
  s.id = id;
  s.start = proctor::child<member>(observer, id, flags);
  return s;
}

/// Flags for tests that count restarts themselves: no backoff, room for `intensity` restarts.
inline proctor::supervisor_flags flags(proctor::strategy how, std::uint32_t intensity = 10,
                                       std::chrono::milliseconds period = 60s) {
  proctor::supervisor_flags f;
  f.how = how;
  f.intensity = intensity;
  f.period = period;
  return f;
}

// -- waiting for what the tree does ---------------------------------------------------------------

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

/// Receives notes until `enough(notes)` or `timeout`; returns every note received.
inline std::vector<sup_note> notes_until(proctor::scoped_actor& self,
                                         const std::function<bool(const std::vector<sup_note>&)>& enough,
                                         std::chrono::steady_clock::duration timeout = patience) {
  std::vector<sup_note> got;
  auto until = clock::now() + timeout;
  while (!enough(got)) {
    auto now = clock::now();
    if (now >= until)
      break;
    self.receive(until - now, [&](const sup_note& n) { got.push_back(n); });
  }
  return got;
}

/// Receives `n` notes (fewer if they do not come in time).
inline std::vector<sup_note> take_notes(proctor::scoped_actor& self, std::size_t n,
                                        std::chrono::steady_clock::duration timeout = patience) {
  return notes_until(self, [n](const std::vector<sup_note>& got) { return got.size() >= n; },
                     timeout);
}

/// Receives notes until one with `event` and `tag` came; returns all of them.
inline std::vector<sup_note> notes_through(proctor::scoped_actor& self, const std::string& event,
                                           const std::string& tag,
                                           std::chrono::steady_clock::duration timeout = patience) {
  return notes_until(
    self,
    [&](const std::vector<sup_note>& got) {
      return !got.empty() && got.back().event == event && got.back().tag == tag;
    },
    timeout);
}

/// The notes that are already queued, without waiting.
inline std::vector<sup_note> queued_notes(proctor::scoped_actor& self) {
  std::vector<sup_note> got;
  while (self.receive(0s, [&](const sup_note& n) { got.push_back(n); })) {
  }
  return got;
}

/// "event tag" of each note whose event is one of `events`.
inline std::vector<std::string> story(const std::vector<sup_note>& notes,
                                      const std::vector<std::string>& events = {"init", "exit"}) {
  std::vector<std::string> out;
  for (auto& n : notes)
    for (auto& e : events)
      if (n.event == e)
        out.push_back(n.event + " " + n.tag);
  return out;
}

/// which_children, by id (empty if the supervisor did not answer).
inline std::map<std::string, proctor::child_info> children(const proctor::actor_ref& sup) {
  std::map<std::string, proctor::child_info> out;
  if (auto kids = proctor::which_children(sup, patience))
    for (auto& c : *kids)
      out[c.id] = c;
  return out;
}

/// The pid of each child, by id (0 while not running).
inline std::map<std::string, std::int32_t> pids(const proctor::actor_ref& sup) {
  std::map<std::string, std::int32_t> out;
  for (auto& [id, c] : children(sup))
    out[id] = c.pid;
  return out;
}

/// Waits until child `id` of `sup` runs with a pid other than `old` (a restart has finished);
/// returns that pid, or 0 if it did not happen in time.
inline std::int32_t running_pid(const proctor::actor_ref& sup, const std::string& id,
                                std::int32_t old = 0) {
  std::int32_t pid = 0;
  auto done = [&] {
    auto kids = children(sup);
    auto it = kids.find(id);
    if (it == kids.end() || !it->second.running || it->second.pid == old || it->second.pid <= 0)
      return false;
    pid = it->second.pid;
    return true;
  };
  return eventually(done) ? pid : 0;
}

/// SIGKILLs child `id` of `sup` once it runs (with a pid other than `old`); returns the pid it
/// killed, or 0 if the child did not run in time.
inline std::int32_t kill_child(const proctor::actor_ref& sup, const std::string& id,
                               std::int32_t old = 0) {
  auto pid = running_pid(sup, id, old);
  if (pid > 0)
    ::kill(pid, SIGKILL);
  return pid;
}

/// which_children's ids, in the supervisor's order.
inline std::vector<std::string> child_ids(const proctor::actor_ref& sup) {
  std::vector<std::string> out;
  if (auto kids = proctor::which_children(sup, patience))
    for (auto& c : *kids)
      out.push_back(c.id);
  return out;
}

/// Waits for the down_msg of monitor `id`, dropping other DOWNs on the way.
inline std::optional<proctor::down_msg> wait_down(proctor::scoped_actor& self, std::uint64_t id,
                                                  std::chrono::steady_clock::duration timeout = patience) {
  auto until = clock::now() + timeout;
  std::optional<proctor::down_msg> found;
  while (!found) {
    auto now = clock::now();
    if (now >= until)
      break;
    self.receive(until - now, [&](const proctor::down_msg& d) {
      if (d.monitor_id == id)
        found = d;
    });
  }
  return found;
}

/// Receives crash reports (from subscribe_crash_reports) until `n` came or `timeout` passes.
inline std::vector<proctor::crash_report> take_reports(proctor::scoped_actor& self, std::size_t n,
                                                       std::chrono::steady_clock::duration timeout = patience) {
  std::vector<proctor::crash_report> got;
  auto until = clock::now() + timeout;
  while (got.size() < n) {
    auto now = clock::now();
    if (now >= until)
      break;
    self.receive(until - now, [&](const proctor::crash_report& r) { got.push_back(r); });
  }
  return got;
}

/// Receives `n` sup_done; returns their ids in arrival order and checks each came from `pid`.
inline std::vector<std::int32_t> take_done(proctor::scoped_actor& self, int n, std::int32_t pid) {
  std::vector<std::int32_t> ids;
  for (int i = 0; i < n; ++i) {
    bool got = self.receive(patience, [&](const sup_done& d) {
      ids.push_back(d.id);
      CHECK(d.pid == pid);
    });
    if (!got)
      break;
  }
  return ids;
}

/// from, from + 1, ..., to.
inline std::vector<std::int32_t> range(std::int32_t from, std::int32_t to) {
  std::vector<std::int32_t> out;
  for (auto i = from; i <= to; ++i)
    out.push_back(i);
  return out;
}

/// True once `pid` no longer runs (gone, or a zombie), within `timeout`.
inline bool gone(pid_t pid, std::chrono::steady_clock::duration timeout = patience) {
  return pid > 0 && eventually([pid] { return proctor::test::is_dead(pid); }, timeout);
}

} // namespace sup_test
