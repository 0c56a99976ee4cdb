#include "proctor/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "forkserver.hpp"
#include "proctor/detail/pipe_ends.hpp"
#include "launchers.hpp"
#include "process_state.hpp"
#include "runtime.hpp"

namespace proctor {

using detail::process_phase;
using detail::process_state;

namespace {

[[noreturn]] void misuse(const process_state& s, const char* what) {
  throw process_error(process_errc::misuse, "process '" + s.name + "': " + what);
}

void require_open(const process_state& s) {
  if (s.phase == process_phase::closed)
    throw process_error(process_errc::closed, "process '" + s.name + "': the object is closed");
}

void require_started_here(const process_state& s, const char* what) {
  require_open(s);
  if (s.phase == process_phase::created || s.phase == process_phase::starting)
    misuse(s, what);
  if (s.parent_pid != ::getpid())
    misuse(s, "only the process that started a child can wait for it or signal it");
}

/// What tells that the child has ended: the zygote's status socket for its children (the report
/// follows the pidfd, and carries the status), the pidfd otherwise. Once the zygote is gone
/// without a report (its socket at EOF), the pidfd. Caller holds s.mu.
int wait_descriptor(const process_state& s) {
  if (s.child.status && !s.zygote_lost)
    return s.child.status.get();
  return s.child.pidfd.get();
}

/// Reaps if the child has ended. Caller holds s.mu. True once the child is reaped.
bool poll_end(process_state& s) {
  if (s.phase != process_phase::running)
    return true;
  std::optional<detail::exit_status> st;
  if (s.child.status)
    st = detail::try_read_zygote_status(s.child.status.get(), s.child.pidfd.get(), s.zygote_lost);
  else
    st = detail::try_reap_pidfd(s.child.pidfd.get());
  if (!st)
    return false;
  s.status = st;
  s.phase = process_phase::ended;
  // The descriptors stay open until close(): another thread may be polling them right now.
  detail::runtime::get().forget(&s);
  return true;
}

detail::launch_request make_request(const process_state& s) {
  auto self = detail::runtime::get().self();
  detail::launch_request req;
  req.name = s.name;
  req.ident = s.ident;
  req.daemon = s.daemon;
  req.parent_pid = self.pid;
  req.parent_name = self.name;
  req.entry_key = s.target.key;
  req.args = s.target.args;
  return req;
}

} // namespace

process::process(options opts, detail::process_target target)
  : state_(std::make_shared<process_state>()) {
  auto& s = *state_;
  s.ident = detail::runtime::get().next_ident();
  s.name = opts.name.empty() ? "process-" + s.ident : std::move(opts.name);
  s.daemon = opts.daemon;
  s.method = opts.method;
  s.target = std::move(target);
}

void process::start() {
  auto& rt = detail::runtime::get();
  rt.reap_ended_children(); // as multiprocessing does
  auto& s = *state_;
  detail::launch_request req;
  start_method m;
  {
    std::lock_guard guard{s.mu};
    require_open(s);
    if (s.phase != process_phase::created)
      misuse(s, "cannot start a process twice");
    m = s.method.value_or(get_start_method());
    if (m != start_method::fork && s.target.key.empty())
      throw process_error(process_errc::not_crossable,
                          "process '" + s.name + "': the " + std::string{to_string(m)}
                            + " start method runs only registered entry points; pass "
                              "proctor::entry<function> as the target, or use the fork method");
    req = make_request(s);
    s.phase = process_phase::starting;
  }
  // The pipe ends the child takes hold of as it starts (all of ours, for a plain callable).
  auto ends_to_hand_over = s.target.shares_every_end ? detail::pipe_ends::held_here() : s.target.ends;
  // Launch without holding s.mu: a forked child must not inherit it locked.
  detail::launched child;
  try {
    // What the parent printed before start() comes out before what the child prints, as in
    // Python (under fork, launch_fork() flushes as it must anyway).
    if (m != start_method::fork)
      detail::flush_std_streams();
    switch (m) {
      case start_method::fork:
        child = detail::launch_fork(s, req);
        break;
      case start_method::spawn:
        child = detail::launch_spawn(req);
        break;
      case start_method::forkserver:
        child = detail::launch_forkserver(req);
        break;
    }
  } catch (...) {
    std::lock_guard guard{s.mu};
    s.phase = process_phase::created;
    throw;
  }
  std::lock_guard guard{s.mu};
  s.child = std::move(child);
  s.method = m;
  s.parent_pid = ::getpid();
  s.phase = process_phase::running;
  if (!s.child.pidfd && !s.child.status) { // gone before we could hold it; its status is lost
    s.status = detail::exit_status{detail::unknown_exitcode, false};
    s.phase = process_phase::ended;
    return;
  }
  rt.adopt(state_);
  detail::pipe_ends::await_holder(s.child.pid, s.child.pidfd.get(), ends_to_hand_over);
}

void process::join() {
  join_until(std::nullopt);
}

bool process::join(duration timeout) {
  return join_until(timeout);
}

bool process::join_until(std::optional<duration> timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
  auto& s = *state_;
  for (bool first = true;; first = false) {
    int wait_fd;
    bool own_child;
    {
      std::lock_guard guard{s.mu};
      require_started_here(s, "can only join a started process");
      if (poll_end(s))
        return true;
      wait_fd = wait_descriptor(s);
      own_child = !s.child.status;
    }
    // A child that is ending already (a short task, one just told to stop) has most often ended
    // a few tens of microseconds later: looked for a moment, giving the processor up between
    // looks, before sleeping, whose wake-up would cost as much again. Not for a zygote's child,
    // whose end the zygote has to see and report first: on a machine with few processors, a
    // looking parent keeps the zygote and the child queued on the other one.
    if (first && own_child
        && detail::look_a_while(
          [wait_fd] { return detail::wait_readable(wait_fd, std::chrono::nanoseconds{0}); },
          deadline))
      continue;
    std::optional<std::chrono::nanoseconds> left;
    if (timeout) {
      left = deadline - clock::now();
      if (*left <= std::chrono::nanoseconds::zero()) {
        std::lock_guard guard{s.mu};
        return poll_end(s);
      }
    }
    detail::wait_readable(wait_fd, left);
  }
}

bool process::is_alive() {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase == process_phase::created || s.phase == process_phase::starting)
    return false;
  if (s.parent_pid != ::getpid())
    misuse(s, "only the process that started a child can poll it");
  return !poll_end(s);
}

std::optional<pid_t> process::pid() const {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase != process_phase::running && s.phase != process_phase::ended)
    return std::nullopt;
  return s.child.pid;
}

std::optional<int> process::exitcode() {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase == process_phase::running && s.parent_pid == ::getpid())
    poll_end(s);
  if (!s.status)
    return std::nullopt;
  return s.status->exitcode;
}

bool process::core_dumped() {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase == process_phase::running && s.parent_pid == ::getpid())
    poll_end(s);
  return s.status && s.status->core_dumped;
}

namespace {

void signal_child(process_state& s, int sig) {
  std::lock_guard guard{s.mu};
  require_started_here(s, "can only signal a started process");
  if (s.phase != process_phase::running)
    return;
  if (detail::send_signal(s.child.pidfd.get(), sig) != 0 && errno != ESRCH)
    detail::throw_system_error("pidfd_send_signal", errno);
}

} // namespace

void process::terminate() {
  signal_child(*state_, SIGTERM);
}

void process::kill() {
  signal_child(*state_, SIGKILL);
}

void process::close() {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  if (s.phase == process_phase::closed)
    return;
  if (s.phase == process_phase::starting)
    misuse(s, "cannot close a process that is starting");
  if (s.phase == process_phase::running) {
    if (s.parent_pid != ::getpid() || !poll_end(s))
      misuse(s, "cannot close a process that is still running; join or kill it first");
  }
  s.child.pidfd.reset();
  s.child.status.reset();
  s.phase = process_phase::closed;
}

namespace {

/// The pidfd of a process started here, or -1. Under s.mu.
int started_pidfd(const process_state& s) noexcept {
  if (s.phase != process_phase::running && s.phase != process_phase::ended)
    return -1;
  return s.child.pidfd.get();
}

} // namespace

int detail::process_access::pidfd(const process& p) noexcept {
  auto& s = *p.state_;
  std::lock_guard guard{s.mu};
  return started_pidfd(s);
}

detail::unique_fd detail::process_access::dup_pidfd(const process& p) noexcept {
  auto& s = *p.state_;
  std::lock_guard guard{s.mu}; // close() cannot take the descriptor away meanwhile
  int fd = started_pidfd(s);
  return unique_fd{fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 3)};
}

int process::sentinel() const {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase != process_phase::running && s.phase != process_phase::ended)
    misuse(s, "the sentinel exists once the process has started");
  return s.child.status ? s.child.status.get() : s.child.pidfd.get();
}

std::string process::name() const {
  std::lock_guard guard{state_->mu};
  return state_->name;
}

void process::name(std::string new_name) {
  std::lock_guard guard{state_->mu};
  state_->name = std::move(new_name);
}

bool process::daemon() const {
  std::lock_guard guard{state_->mu};
  return state_->daemon;
}

void process::daemon(bool on) {
  auto& s = *state_;
  std::lock_guard guard{s.mu};
  require_open(s);
  if (s.phase != process_phase::created)
    misuse(s, "the daemon flag cannot change after start()");
  s.daemon = on;
}

start_method process::method() const {
  std::lock_guard guard{state_->mu};
  return state_->method.value_or(get_start_method());
}

std::vector<process> active_children() {
  std::vector<process> out;
  for (auto& state : detail::runtime::get().live_children())
    out.push_back(process{std::move(state)});
  return out;
}

} // namespace proctor
