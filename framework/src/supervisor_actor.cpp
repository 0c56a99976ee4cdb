#include "supervisor_actor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <fstream>
#include <thread>
#include <utility>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "actor_core.hpp"
#include "futex.hpp"
#include "runtime.hpp"
#include "proctor/detail/codec.hpp"
#include "spawn_internals.hpp"
#include "standby.hpp"
#include "supervisor_messages.hpp"
#include "sys.hpp"

namespace proctor::detail {

namespace {

constexpr std::size_t stderr_lines_kept = 8;
/// How long after a standby took over the next one is started. Its start (a fork in the zygote,
/// which then forks its next spare, and the standby's setup) competes with the takeover's own
/// work (the new incarnation's first messages, the old one's teardown) for the CPUs: started at
/// once, it made the 99th percentile of crash-to-answer 8-10x the median on two cores, started
/// this much later 4-6x. A crash within this window is restarted cold, as without a standby.
constexpr std::chrono::milliseconds standby_relaunch_delay{2};

bool abnormal(const exit_reason& r) {
  return r.kind != exit_kind::normal && r.kind != exit_kind::shutdown;
}

std::string bytes_with_cell(const segment_handle& cell, const std::string& args) {
  return encode_tuple(std::tuple<segment_handle>{cell}) + args;
}

/// A process (not started) that runs the child's actor on its mailbox.
process child_process(const child_spec& spec, mailbox_owner& box) {
  auto key = spec.start.key;
  auto bytes = bytes_with_cell(box.cell_obj.handle("actor mailbox"), spec.start.args);
  process_target target{[key, bytes] {
                          auto invoke = find_entry(key);
                          if (invoke == nullptr)
                            throw std::runtime_error("no registered actor " + key);
                          invoke(bytes);
                        },
                        key, bytes, {}, false};
  // From the supervisor's own zygote, a new run of the program: a child forked from a supervisor
  // of thousands of children would copy (and dirty) all of its memory map.
  return process{process::options{spec.id, true, start_method::forkserver}, std::move(target)};
}

/// Copies the oldest record of a child's mailbox (the child is not running: nobody else takes).
bool peek_head(ring& messages, std::vector<char>& record, std::uint64_t& position) {
  auto err = messages.peek(
    [](void* ctx, const std::byte* data, std::size_t size) {
      auto& out = *static_cast<std::vector<char>*>(ctx);
      out.assign(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
    },
    &record, std::chrono::steady_clock::time_point{}, position);
  return !err;
}

/// Removes the record peek_head() found at `position`. Like peek_head(), never waits longer than
/// a lock's grace: a process stopped while it held a child's mailbox must not stop the supervisor.
bool pop_head(ring& messages, std::uint64_t position) {
  return messages.pop(position, std::chrono::steady_clock::now()) == ring::pop_result::popped;
}

actor_error sup_error(std::string what) {
  return {actor_errc::handler_error, std::move(what), {}};
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

} // namespace

supervisor_actor::supervisor_actor(actor& self, supervisor_spec spec)
  : self_(self), spec_(std::move(spec)), name_(self.ref().name()) {
  if (name_.empty())
    name_ = "supervisor";
}

supervisor_actor::~supervisor_actor() = default;

// -- start and stop -----------------------------------------------------------------------------

void supervisor_actor::init() {
  // The zygote children are forked from: a new run of the program (see forkserver_client).
  runtime::get().start_zygote_if_possible();
  // A subreaper: what a child leaves behind when it dies (a process it forked itself) is adopted
  // here rather than by init, reaped while the supervisor runs and killed when it stops.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  self_.run_every(std::chrono::seconds{1}, [this] { collect_orphans(false); });
  if (spec_.flags.how == strategy::simple_one_for_one && spec_.children.size() != 1)
    throw std::invalid_argument("simple_one_for_one takes exactly one child spec (the template)");
  std::vector<std::string> ids;
  for (auto& s : spec_.children) {
    if (s.id.empty() || std::find(ids.begin(), ids.end(), s.id) != ids.end())
      throw std::invalid_argument("child ids must be unique and non-empty: '" + s.id + "'");
    ids.push_back(s.id);
  }
  if (spec_.flags.how == strategy::simple_one_for_one)
    return; // the spec is a template: start_child makes the children
  // Each child's mailbox is made while the child before it runs its init (in its own process).
  auto make = [](const child_spec& s) {
    auto c = std::make_unique<child>();
    c->spec = s;
    return c;
  };
  std::unique_ptr<child> next;
  for (std::size_t i = 0; i < spec_.children.size(); ++i) {
    children_.push_back(next ? std::move(next) : make(spec_.children[i]));
    if (i + 1 < spec_.children.size())
      next = make(spec_.children[i + 1]);
    try {
      start(*children_.back(), next.get());
    } catch (...) {
      children_.pop_back();
      next.reset();
      on_exit({exit_kind::shutdown, 0, false, {}});
      throw;
    }
  }
}

void supervisor_actor::make_mailbox(child& c) {
  spawn_options o;
  o.name = c.spec.id;
  o.mailbox_bytes = c.spec.mailbox_bytes;
  try {
    c.box = create_mailbox(o);
  } catch (const std::exception& e) { // no room in /dev/shm, say
    throw spawn_error{actor_error{actor_errc::spawn_failed,
                                  "child '" + c.spec.id + "': no mailbox: " + e.what(),
                                  {exit_kind::exception, 0, false, e.what()}}};
  }
  c.box.cell().supervised = 1;
  init_life(c.box.cell());
  c.new_box = true; // its first incarnation is not a restart
  // Children map their own mailbox by name: siblings' mappings only make every fork slower.
  c.box.cell_obj.dont_fork();
  c.box.messages.dont_fork();
}

void supervisor_actor::start(child& c, child* ahead) {
  if (c.spec.watchdog.count() > 0 && !watchdog_armed_) {
    watchdog_armed_ = true;
    self_.run_every(std::chrono::milliseconds{20}, [this] { check_watchdogs(); });
  }
  if (!c.box.cell_obj)
    make_mailbox(c);
  if (c.new_box) {
    c.new_box = false;
  } else {
    auto& cell = c.box.cell();
    // A new incarnation on the same mailbox: keep the last exit for late watchers.
    cell.prev_exit_kind = cell.exit_kind;
    cell.prev_exit_code = cell.exit_code;
    std::memcpy(cell.prev_exit_detail, cell.exit_detail, sizeof cell.prev_exit_detail);
    cell.incarnation.fetch_add(1, std::memory_order_acq_rel);
    cell.fatal_signal.store(0);
    cell.kill_requested.store(0);
    cell.sleeping.store(0);
    cell.handler_since.store(0);
    cell.in_flight_pos.store(0); // the crash it was for is counted already (child::crash_pos)
    cell.pid.store(0);
    cell.state.store(cell_starting, std::memory_order_release);
  }
  auto& cell = c.box.cell();
  cell.finished.store(0, std::memory_order_relaxed);
  cell.watchdog_ms = static_cast<std::uint32_t>(c.spec.watchdog.count());
  cell.limit_memory = c.spec.limits.memory_bytes;
  cell.limit_cpu = c.spec.limits.cpu_seconds;
  cell.limit_files = c.spec.limits.open_files;

  // The child's stderr comes back through a pipe: the child opens the write end through /proc
  // (whichever way it was started), so the supervisor holds it only until the child is ready.
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) == 0) {
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK); // read here from the event loop, and in stop()
    cell.stderr_fd = fds[1];
    cell.stderr_pid = ::getpid();
  } else {
    cell.stderr_fd = -1;
  }
  auto drop_write_end = [&] {
    cell.stderr_fd = -1;
    if (fds[1] >= 0)
      ::close(std::exchange(fds[1], -1));
  };

  process p = child_process(c.spec, c.box);
  c.unresponsive = false;
  c.start_timed_out = false;
  auto readies_before = cell.readies.load(std::memory_order_acquire);
  try {
    p.start();
  } catch (const std::exception& e) {
    // fork refused (EAGAIN), no descriptors, the zygote lost: a failed start, like any other.
    drop_write_end();
    if (fds[0] >= 0)
      ::close(fds[0]);
    throw spawn_error{actor_error{actor_errc::spawn_failed,
                                  "child '" + c.spec.id + "' could not be started: " + e.what(),
                                  {exit_kind::exception, 0, false, e.what()}}};
  }
  c.proc = p;
  c.pid = p.pid().value_or(0);
  record_identity(cell, c.pid); // while the child starts (0 in a new cell, reset above in another)
  if (ahead != nullptr && !ahead->box.cell_obj) {
    try {
      make_mailbox(*ahead); // while this child runs its init
    } catch (const std::exception&) { // tried again, and reported, when that child starts
    }
  }
  if (fds[0] >= 0) {
    c.err = std::make_unique<boost::asio::posix::stream_descriptor>(self_.io_context(), fds[0]);
    ++c.err_gen;
    c.err_partial.clear();
    read_stderr(c);
  }
  try {
    wait_ready(cell, *c.proc, c.spec.start_timeout, c.spec.id, readies_before); // spawn_error
  } catch (...) {
    drop_write_end();
    close_stderr(c); // what it wrote before its init failed is passed on
    throw;
  }
  drop_write_end();
  c.running = true;
  c.restarting = false;
  c.started = clock::now();
  c.incarnation = cell.incarnation.load(std::memory_order_acquire);
  watch(c);
  post_standby(c);
}

// -- warm standbys ------------------------------------------------------------------------------

void supervisor_actor::post_standby(child& c) {
  if (!c.spec.standby)
    return;
  boost::asio::post(self_.io_context(), [this, id = c.spec.id] {
    if (auto* found = find(id))
      launch_standby(*found);
  });
}

bool supervisor_actor::standby_can_help(const child& c) const {
  // A transient child's exit(0) outside a handler looks like a death without a word to a
  // standby, which cannot see the status: permanent children only.
  return c.spec.standby && c.spec.restart == restart_type::permanent
         && (spec_.flags.how == strategy::one_for_one
             || spec_.flags.how == strategy::simple_one_for_one)
         && spec_.flags.backoff_initial.count() == 0;
}

void supervisor_actor::launch_standby(child& c) {
  if (!standby_can_help(c) || c.standby || !c.running || shutting_down_)
    return;
  auto& cell = c.box.cell();
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return;
  unique_fd read_end{fds[0]}, write_end{fds[1]};
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  // The running incarnation read these at its start and never again: the standby reads them now.
  cell.stderr_fd = fds[1];
  cell.stderr_pid = ::getpid();
  cell.standby.store(standby_off, std::memory_order_release);
  auto ready_before = cell.standby_ready.load(std::memory_order_acquire);
  cell.standby_call.store(1, std::memory_order_release);
  process p = child_process(c.spec, c.box);
  try {
    p.start();
  } catch (const std::exception& e) {
    cell.standby_call.store(0, std::memory_order_release);
    cell.stderr_fd = -1;
    std::fprintf(stderr, "proctor: %s: child %s runs without a standby: %s\n", name_.c_str(),
                 c.spec.id.c_str(), e.what());
    return;
  }
  c.standby = std::move(p);
  c.standby_up = false;
  c.standby_ready_before = ready_before;
  c.standby_err = std::move(read_end);
  c.standby_err_write = std::move(write_end);
  watch_standby_setup(c, clock::now() + c.spec.start_timeout);
}

void supervisor_actor::watch_standby_setup(child& c, clock::time_point until) {
  // Every millisecond at first (a standby is set up in a few), every 20 once that is long past.
  auto elapsed = clock::now() + c.spec.start_timeout - until; // since the launch
  auto step = elapsed < std::chrono::milliseconds{50} ? std::chrono::milliseconds{1}
                                                      : std::chrono::milliseconds{20};
  auto timer = std::make_shared<boost::asio::steady_timer>(self_.io_context(), step);
  timer->async_wait([this, timer, until, id = c.spec.id,
                     pid = c.standby->pid().value_or(0)](const boost::system::error_code& ec) {
    auto* found = find(id);
    if (ec || found == nullptr || !found->standby || found->standby_up
        || found->standby->pid().value_or(0) != pid)
      return; // dismissed meanwhile
    auto& c = *found;
    auto& cell = c.box.cell();
    if (cell.standby_ready.load(std::memory_order_acquire) != c.standby_ready_before) {
      c.standby_up = true;
      cell.standby_call.store(0, std::memory_order_release);
      cell.stderr_fd = -1;
      c.standby_err_write.reset(); // it has its own
      arm_standby(c);
    } else if (!c.standby->is_alive()) {
      standby_failed(c, "it ended as it started");
    } else if (clock::now() >= until) {
      standby_failed(c, "it was not set up within its start timeout");
    } else {
      watch_standby_setup(c, until);
    }
  });
}

void supervisor_actor::standby_failed(child& c, const std::string& why) {
  std::fprintf(stderr, "proctor: %s: child %s runs without a standby: %s\n", name_.c_str(),
               c.spec.id.c_str(), why.c_str());
  dismiss_standby(c);
}

bool supervisor_actor::standby_may_take_over(const child& c) const {
  // Siblings stop and start too under other strategies, and a backoff waits: the supervisor's
  // to do (see standby_can_help()).
  if (shutting_down_ || !c.running || !standby_can_help(c))
    return false;
  // One more restart now must stay within intensity (later, fewer restarts are in the period).
  auto now = clock::now();
  std::size_t recent = 0;
  for (auto t : restart_times_)
    recent += now - t <= spec_.flags.period ? 1 : 0;
  return recent + 1 <= spec_.flags.intensity;
}

void supervisor_actor::arm_standby(child& c) {
  if (!c.standby || !c.standby_up)
    return;
  std::uint32_t want = standby_may_take_over(c) ? standby_allowed : standby_off;
  auto& word = c.box.cell().standby;
  auto now = word.load(std::memory_order_acquire);
  while (now != standby_taken && now != standby_declined && now != want
         && !word.compare_exchange_weak(now, want, std::memory_order_acq_rel)) {
  }
}

void supervisor_actor::rearm_standbys() {
  for (auto& c : children_)
    arm_standby(*c);
}

bool supervisor_actor::standby_took_over(child& c) {
  if (!c.standby)
    return false;
  if (!c.standby_up) { // still setting up: never armed, it cannot have taken over
    dismiss_standby(c);
    return false;
  }
  auto& word = c.box.cell().standby;
  // Allowed to, the standby decides: the kernel woke it as the incarnation began to die, and
  // the word says what it did (it may not have run yet: wait, a bounded while, for a stopped or
  // starved standby must not hold up the supervisor). Not allowed, it can only decline.
  auto until = clock::now() + std::chrono::milliseconds{200};
  for (auto w = word.load(std::memory_order_acquire); w == standby_allowed;
       w = word.load(std::memory_order_acquire)) {
    auto now = clock::now();
    if (now >= until || !c.standby->is_alive())
      break;
    futex_wait(word, w, std::min(until, now + std::chrono::milliseconds{5}));
  }
  // One exchange decides: the standby took over, or cannot from now on.
  if (word.exchange(standby_off, std::memory_order_acq_rel) == standby_taken)
    return true;
  dismiss_standby(c);
  return false;
}

void supervisor_actor::dismiss_standby(child& c) {
  if (!c.standby)
    return;
  c.box.cell().standby.store(standby_off, std::memory_order_release);
  c.standby->kill(); // it waits, or ends by itself: it holds nothing anyone needs
  c.standby->join();
  c.standby.reset();
  c.standby_up = false;
  c.standby_err.reset();
  if (c.standby_err_write) { // it was still setting up: what was set out for it goes
    c.standby_err_write.reset();
    c.box.cell().standby_call.store(0, std::memory_order_release);
    c.box.cell().stderr_fd = -1;
  }
}

void supervisor_actor::adopt_standby(child& c, exit_reason why) {
  crash_report r;
  r.supervisor = name_;
  r.child_id = c.spec.id;
  r.pid = c.pid;
  r.reason = std::move(why);
  r.restarts = c.restarts;
  r.stderr_tail.assign(c.err_tail.begin(), c.err_tail.end());
  r.action = "restarted by its standby";
  c.err_tail.clear();
  ++c.restarts;
  if (clock::now() - c.started >= spec_.flags.stable_after)
    c.in_a_row = 0;
  ++c.in_a_row;
  c.proc = std::move(*c.standby);
  c.standby.reset();
  c.pid = c.proc->pid().value_or(0);
  c.standby_up = false;
  c.unresponsive = false;
  c.start_timed_out = false;
  c.incarnation = c.box.cell().incarnation.load(std::memory_order_acquire);
  c.running = true;
  c.restarting = false;
  c.started = clock::now();
  if (c.standby_err) {
    c.err = std::make_unique<boost::asio::posix::stream_descriptor>(self_.io_context(),
                                                                   c.standby_err.release());
    ++c.err_gen;
    c.err_partial.clear();
    read_stderr(c);
  }
  watch(c); // an init that fails, or hangs past its start timeout (see below), ends it as usual
  if (!shutting_down_ && !note_restart()) {
    // Allowed only with room for one more: another child's restart took it meanwhile.
    r.action = "shutdown: restart intensity reached";
    report(std::move(r));
    give_up();
    return;
  }
  report(std::move(r));
  auto timer = std::make_shared<boost::asio::steady_timer>(self_.io_context(), c.spec.start_timeout);
  timer->async_wait([this, timer, id = c.spec.id, pid = c.pid](const boost::system::error_code& ec) {
    auto* found = find(id);
    if (ec || found == nullptr || found->pid != pid || !found->running)
      return;
    if (found->box.cell().state.load(std::memory_order_acquire) == cell_starting) {
      found->start_timed_out = true;
      ::kill(-pid, SIGKILL); // its init never finished: its pidfd fires next
    }
  });
  auto later =
    std::make_shared<boost::asio::steady_timer>(self_.io_context(), standby_relaunch_delay);
  later->async_wait([this, later, id = c.spec.id](const boost::system::error_code& ec) {
    if (auto* found = find(id); !ec && found)
      launch_standby(*found);
  });
}

void supervisor_actor::settle_standbys() {
  for (auto& cp : children_) {
    auto& c = *cp;
    if (!c.standby)
      continue;
    if (c.running && c.standby_up
        && c.box.cell().standby.load(std::memory_order_acquire) == standby_taken) {
      on_exit_of(&c);
    } else if (c.standby_up && !c.standby->is_alive()) { // killed while it waited
      dismiss_standby(c);
      post_standby(c);
    }
  }
}

void supervisor_actor::watch(child& c) {
  // The process handle keeps owning its pidfd (one descriptor per child: trees are wide).
  c.watch.reset(); // first: the descriptor may be the one it watches (registered once only)
  c.watch.reset(new boost::asio::posix::stream_descriptor(self_.io_context(), c.proc->sentinel()));
  // Found again by id and pid: a child stopped, restarted or removed meanwhile is left alone.
  c.watch->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, id = c.spec.id, pid = c.pid](const boost::system::error_code& ec) {
                        auto* c = find(id);
                        if (ec || c == nullptr || c->pid != pid || !c->running)
                          return;
                        if (c->proc->is_alive()) {
                          // Not its end: a readiness the event loop had for a descriptor closed
                          // since, under the same number (seen after a standby's takeover). A
                          // look again soon, not at once: a zygote gone leaves the sentinel
                          // readable until the child's parent-death signal ends it too.
                          auto again = std::make_shared<boost::asio::steady_timer>(
                            self_.io_context(), std::chrono::milliseconds{1});
                          again->async_wait([this, again, id, pid](const boost::system::error_code& e) {
                            auto* found = find(id);
                            if (!e && found != nullptr && found->pid == pid && found->running)
                              watch(*found);
                          });
                          return;
                        }
                        on_exit_of(c);
                      });
}

void supervisor_actor::read_stderr(child& c) {
  // Read here, from the pipe, never into the buffer of an operation still to complete: what
  // close_stderr() reads for a crash report must come after all that was passed on before.
  switch (drain_stderr_some(c)) {
    case stderr_left::none: // end of file
      return;
    case stderr_left::more: // a child that writes without end must not hold the loop
      boost::asio::post(self_.io_context(), [this, id = c.spec.id, gen = c.err_gen] {
        if (auto* found = find(id); found != nullptr && found->err && found->err_gen == gen)
          read_stderr(*found);
      });
      return;
    case stderr_left::later:
      break;
  }
  // Found again by id and by which pipe it is: a handler that outlived its pipe (its child
  // ended and another started) must not read the next one's.
  c.err->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this, id = c.spec.id, gen = c.err_gen](const boost::system::error_code& ec) {
                      auto* found = find(id);
                      if (!ec && found != nullptr && found->err && found->err_gen == gen)
                        read_stderr(*found);
                    });
}

void supervisor_actor::pass_stderr_line(child& c, std::string line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  c.err_tail.push_back(std::move(line));
  if (c.err_tail.size() > stderr_lines_kept)
    c.err_tail.pop_front();
}

void supervisor_actor::take_stderr(child& c, const char* data, std::size_t n) {
  // Pass the child's stderr on, line by line, and keep the last lines for crash reports.
  c.err_partial.append(data, n);
  std::size_t start = 0;
  for (auto nl = c.err_partial.find('\n'); nl != std::string::npos;
       nl = c.err_partial.find('\n', start)) {
    pass_stderr_line(c, c.err_partial.substr(start, nl - start));
    start = nl + 1;
  }
  c.err_partial.erase(0, start);
  if (c.err_partial.size() > 4096) // a "line" that never ends: pass it on as it is
    pass_stderr_line(c, std::exchange(c.err_partial, {}));
}

supervisor_actor::stderr_left supervisor_actor::drain_stderr_some(child& c) {
  if (!c.err)
    return stderr_left::none;
  char buf[4096];
  // A bounded amount at a time: one that writes without end must not keep its supervisor from
  // everything else.
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(c.err->native_handle(), buf, sizeof buf);
    if (n > 0)
      take_stderr(c, buf, static_cast<std::size_t>(n));
    else if (n == 0)
      return stderr_left::none;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      return stderr_left::later;
    else if (errno != EINTR)
      return stderr_left::none; // nothing more will come from it
  }
  return stderr_left::more;
}

bool supervisor_actor::drain_stderr(child& c, bool all) {
  for (;;) {
    switch (drain_stderr_some(c)) {
      case stderr_left::none:
        return true;
      case stderr_left::later:
        return false;
      case stderr_left::more:
        if (!all)
          return false;
        break;
    }
  }
}

void supervisor_actor::close_stderr(child& c) {
  if (!c.err)
    return;
  (void)drain_stderr(c, true);
  if (!c.err_partial.empty()) // a last line without its newline
    pass_stderr_line(c, std::exchange(c.err_partial, {}));
  c.err->close();
  c.err.reset();
}

void supervisor_actor::stop(child& c, bool let_finish) {
  c.restarting = false; // a scheduled restart finds it so and leaves it
  if (c.running && c.standby && c.standby_up && c.box.cell().standby.load() == standby_taken)
    on_exit_of(&c); // it died just now, and its standby runs in its place: that one is stopped
  if (c.standby) {
    if (c.box.cell().standby.exchange(standby_off, std::memory_order_acq_rel) == standby_taken
        && c.running) {
      // Taken over between the look above and now: the incarnation it replaced is gone.
      c.running = false;
      c.watch.reset();
      auto why = reason_after_takeover(c);
      close_stderr(c);
      adopt_standby(c, std::move(why));
    }
    dismiss_standby(c);
  }
  if (!c.running || !c.proc)
    return;
  c.watch.reset();
  auto& proc = *c.proc;
  pid_t pid = c.pid;
  // The child leads its own process group: the signal reaches its whole subtree. Its zygote
  // reaps it as soon as it ends, but a group keeps its id while any member lives, and a new
  // process gets that id only once pids have wrapped around.
  auto signal_group = [pid](int sig) {
    if (pid > 0)
      ::kill(-pid, sig);
  };
  // A second SIGTERM to this supervisor while it stops its children turns the ordered stop into
  // a fast kill (the root of a tree owns SIGINT/SIGTERM: once is orderly, twice is now).
  auto hurry = [] { return sigterms_received() >= 2; };
  // True once the child is gone, or — with `let_finish` — once its process has finished (its
  // cell says so: the last thing it does before _exit, just before it closes its stderr, whose
  // end of file wakes this loop); false at the limit.
  bool finishing = false;
  auto& cell = c.box.cell();
  auto wait_for = [&](std::optional<std::chrono::milliseconds> limit) {
    auto until = clock::now() + limit.value_or(std::chrono::hours{24 * 365});
    if (!let_finish) {
      while (!proc.join(std::chrono::milliseconds{20}))
        if (hurry() || clock::now() >= until)
          return false;
      return true;
    }
    bool err_open = c.err != nullptr; // until its end of file (which may come early: a child
                                      // whose stderr is not the pipe)
    for (;;) {
      pollfd fds[2] = {{proc.sentinel(), POLLIN, 0},
                       {err_open ? c.err->native_handle() : -1, POLLIN, 0}};
      ::poll(fds, 2, 20);
      if (fds[1].revents != 0 && drain_stderr(c))
        err_open = false;
      if (cell.finished.load(std::memory_order_acquire) != 0) {
        (void)drain_stderr(c, true); // all it wrote is in the pipe by now
        return finishing = true;
      }
      if (fds[0].revents != 0 && proc.join(std::chrono::milliseconds{20}))
        return true;
      if (hurry() || clock::now() >= until)
        return false;
    }
  };
  auto kill_now = [&] {
    c.box.cell().kill_requested.store(1);
    signal_group(SIGKILL);
    proc.join();
  };
  switch (c.spec.shutdown.how) {
    case shutdown_spec::kind::brutal_kill:
      kill_now();
      break;
    case shutdown_spec::kind::timeout:
      signal_group(SIGTERM);
      if (!wait_for(c.spec.shutdown.time))
        kill_now();
      break;
    case shutdown_spec::kind::infinity:
      signal_group(SIGTERM);
      if (!wait_for(std::nullopt)) // only a second SIGTERM cuts it short
        kill_now();
      break;
  }
  signal_group(SIGKILL); // whatever of its subtree is left
  if (finishing)
    finishing_.push_back(*c.proc);
  close_stderr(c);
  if (!has_ended(cell))
    record_exit(cell, {exit_kind::shutdown, 0, false, "stopped by its supervisor"});
  c.running = false;
  c.pid = 0;
}

void supervisor_actor::on_exit(const exit_reason&) {
  shutting_down_ = true;
  // In reverse order, each once the one before has finished. A child has finished when its
  // program has: the kernel's teardown of its process (hundreds of microseconds: its page tables)
  // and its reaping overlap the next child's stop, and are waited for at the end.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it)
    close_for_good(**it, {exit_kind::shutdown, 0, false, "its supervisor stopped"}, true);
  finish_stopped();
  collect_orphans(true);
}

void supervisor_actor::finish_stopped() {
  // Each was sent SIGKILL once its program had finished: past _exit, or about to call it.
  for (auto& p : finishing_)
    p.join();
  finishing_.clear();
}

void supervisor_actor::collect_orphans(bool kill_them) {
  // This process starts no child itself but its zygote (children are forked by the zygote):
  // every other child of it is an orphan it adopted as a subreaper.
  pid_t zygote = runtime::get().zygote_pid();
  std::ifstream list("/proc/self/task/" + std::to_string(::getpid()) + "/children");
  std::vector<pid_t> orphans;
  for (pid_t pid = 0; list >> pid;)
    if (pid > 0 && pid != zygote)
      orphans.push_back(pid);
  for (pid_t pid : orphans) {
    if (kill_them)
      ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, kill_them ? 0 : WNOHANG); // a zombie goes now; a live one stays
  }
}

void supervisor_actor::close_for_good(child& c, const exit_reason& why, bool let_finish) {
  stop(c, let_finish);
  auto& cell = c.box.cell();
  cell.supervised = 0; // senders get noproc from now on
  record_exit(cell, why);
  // Requests still waiting in the mailbox get an answer rather than a timeout; other messages
  // are counted as dead letters.
  for (std::size_t guard = 0; guard < 1000000; ++guard) {
    std::vector<char> record;
    std::uint64_t at = 0;
    if (!peek_head(c.box.messages, record, at) || !pop_head(c.box.messages, at))
      break;
    envelope env{};
    if (record.size() < sizeof env)
      continue;
    std::memcpy(&env, record.data(), sizeof env);
    if ((env.flags & flag_request) != 0 && env.sender_id != 0
        && sizeof env + env.sender_len <= record.size()) {
      std::vector<char> scratch;
      actor_error e{actor_errc::down, "the child ended for good before it took the request", why};
      auto bytes = item_bytes(e, scratch);
      (void)self_.core().send(make_ref(env.sender_id, std::string{record.data() + sizeof env,
                                                                  env.sender_len}),
                              message_traits<actor_error>::id, flag_response | flag_error,
                              env.request_id, bytes, true);
    } else if ((env.flags & (flag_response | flag_system)) == 0) {
      cell.dead_letters.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Never held up for long by a process stopped inside a put: a put that completes afterwards is
  // one its sender made while the child was still there.
  c.box.messages.close(std::chrono::steady_clock::now());
}

void supervisor_actor::retire(child& c, const exit_reason& why) {
  close_for_good(c, why);
  auto idx = index_of(&c);
  if (idx < children_.size())
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(idx));
}

// -- when a child ends ---------------------------------------------------------------------------

namespace {

/// What a joined process's wait status alone says: a signal, exit(0), or another exit code.
exit_reason status_reason(process& proc) {
  auto code = proc.exitcode();
  if (code && *code < 0)
    return {exit_kind::signal, -*code, proc.core_dumped(), {}};
  if (code && *code == 0)
    return {};
  return {exit_kind::exit_code, code.value_or(-1), false, {}};
}

} // namespace

exit_reason supervisor_actor::reason_after_takeover(child& c) {
  // The cell is the new incarnation's already: only the wait status, and what the standby kept
  // in the previous exit's reason — written before it counted the incarnation up, which it does
  // right after its takeover: waited for (a bounded while: a standby stopped there is not).
  auto& proc = *c.proc;
  proc.join();
  auto code = proc.exitcode();
  auto& cell = c.box.cell();
  auto until = clock::now() + std::chrono::milliseconds{200};
  while (cell.incarnation.load(std::memory_order_acquire) == c.incarnation && clock::now() < until)
    std::this_thread::yield();
  if (cell.incarnation.load(std::memory_order_acquire) != c.incarnation
      && cell.prev_exit_kind == static_cast<std::uint32_t>(exit_kind::killed))
    return {exit_kind::killed, code && *code < 0 ? -*code : 9, false, {}};
  return status_reason(proc);
}

exit_reason supervisor_actor::reason_of(child& c) {
  auto& proc = *c.proc;
  proc.join();
  auto code = proc.exitcode();
  auto& cell = c.box.cell();
  if (c.start_timed_out)
    return {exit_kind::killed, 9, false, "its init outlasted its start timeout"};
  if (c.unresponsive)
    return {exit_kind::unresponsive, 0, false,
            "a handler ran longer than " + std::to_string(c.spec.watchdog.count()) + " ms"};
  if (code && *code < 0) // died of a signal: the status knows about the core dump
    return cell.kill_requested.load() != 0 ? exit_reason{exit_kind::killed, -*code, false, {}}
                                           : status_reason(proc);
  if (has_ended(cell))
    return recorded_reason(cell);
  return status_reason(proc);
}

void supervisor_actor::on_exit_of(child* cp) {
  auto& c = *cp;
  if (!c.running)
    return;
  c.running = false;
  c.watch.reset();
  c.proc->join();
  bool taken = standby_took_over(c); // else it is gone: nothing else writes the cell now
  auto why = taken ? reason_after_takeover(c) : reason_of(c);
  if (!taken && !has_ended(c.box.cell()))
    record_exit(c.box.cell(), why);
  close_stderr(c); // what is left in the pipe goes into the report
  if (taken)
    adopt_standby(c, std::move(why));
  else
    handle_crash(c, std::move(why));
}

void supervisor_actor::handle_crash(child& c, exit_reason why) {
  crash_report r;
  r.supervisor = name_;
  r.child_id = c.spec.id;
  r.pid = c.pid;
  r.reason = why;
  r.restarts = c.restarts;
  r.stderr_tail.assign(c.err_tail.begin(), c.err_tail.end());
  c.err_tail.clear();
  c.pid = 0;

  auto& cell = c.box.cell();
  auto pos = cell.in_flight_pos.load(std::memory_order_acquire);
  if (pos != 0) {
    r.in_flight = message_type_name(cell.in_flight_type.load());
    if (pos == c.crash_pos) {
      ++c.crash_count;
    } else {
      c.crash_pos = pos;
      c.crash_count = 1;
    }
  }

  bool restart_it = c.spec.restart == restart_type::permanent
                    || (c.spec.restart == restart_type::transient && abnormal(why));
  if (shutting_down_)
    restart_it = false;
  if (!restart_it) {
    r.action = "no restart";
    if (abnormal(why) || c.spec.restart != restart_type::transient)
      report(std::move(r));
    // OTP drops a temporary child's spec, and a simple_one_for_one child that is not restarted:
    // its mailbox is closed for good.
    if (c.spec.restart == restart_type::temporary || spec_.flags.how == strategy::simple_one_for_one)
      retire(c, why);
    return;
  }
  if (!note_restart()) {
    r.action = "shutdown: restart intensity reached";
    report(std::move(r));
    give_up();
    return;
  }
  // A message that keeps killing its actor goes to the dead letters instead of a crash loop.
  auto k = spec_.flags.max_crashes_per_message;
  if (pos != 0 && k != 0 && c.crash_count >= k) {
    dead_letter d{c.spec.id, r.in_flight, {}, c.crash_count, 0, {}, 0};
    std::vector<char> record;
    std::uint64_t at = 0;
    if (peek_head(c.box.messages, record, at) && at + 1 == pos && pop_head(c.box.messages, at)) {
      // Room for it first: the oldest letters past the limit go, and their bytes' budget with them.
      forget_dead_letters(kept_dead_letters() - 1);
      envelope env{};
      if (record.size() >= sizeof env) {
        std::memcpy(&env, record.data(), sizeof env);
        if (sizeof env + env.sender_len <= record.size()) {
          if (env.sender_id != 0)
            d.sender = to_string(make_ref(env.sender_id,
                                          std::string{record.data() + sizeof env, env.sender_len}));
          d.type_id = env.type_id;
          auto size = record.size() - sizeof env - env.sender_len;
          d.payload_size = static_cast<std::uint32_t>(size);
          if (size <= dead_letter_payload_max
              && dead_payload_bytes_ + size <= dead_letter_payload_budget) {
            d.payload.assign(record.data() + sizeof env + env.sender_len, size);
            dead_payload_bytes_ += size;
          }
        }
      }
      if ((env.flags & flag_request) != 0 && !d.sender.empty()) {
        // Its sender waits for an answer: tell it, rather than let it time out.
        std::vector<char> scratch;
        actor_error e{actor_errc::handler_error,
                      "dead-lettered: child " + c.spec.id + " crashed handling it ("
                        + std::to_string(c.crash_count) + (c.crash_count == 1 ? " time)" : " times)"),
                      why};
        auto bytes = item_bytes(e, scratch);
        (void)self_.core().send(make_ref(env.sender_id, std::string{record.data() + sizeof env,
                                                                    env.sender_len}),
                                message_traits<actor_error>::id, flag_response | flag_error,
                                env.request_id, bytes, true);
      }
      std::fprintf(stderr, "proctor: %s: dead letter: child %s crashed on a %s (%u time%s); moved aside\n",
                   name_.c_str(), c.spec.id.c_str(), d.type.c_str(), c.crash_count,
                   c.crash_count == 1 ? "" : "s");
      dead_.push_back(std::move(d));
      cell.in_flight_pos.store(0);
      c.crash_pos = 0;
      c.crash_count = 0;
      r.action = "dead-letter and restart";
    }
  }
  if (r.action.empty())
    r.action = "restart";

  switch (spec_.flags.how) {
    case strategy::one_for_one:
    case strategy::simple_one_for_one:
      break;
    case strategy::one_for_all:
      for (auto it = children_.rbegin(); it != children_.rend(); ++it)
        if (it->get() != &c)
          stop(**it);
      break;
    case strategy::rest_for_one:
      for (auto i = children_.size(); i-- > index_of(&c) + 1;)
        stop(*children_[i]);
      break;
  }
  auto delay = std::chrono::milliseconds{0};
  if (clock::now() - c.started >= spec_.flags.stable_after)
    c.in_a_row = 0;
  if (spec_.flags.backoff_initial.count() > 0) {
    auto shift = std::min<std::uint32_t>(c.in_a_row, 20);
    auto base = std::min(spec_.flags.backoff_initial * (1u << shift), spec_.flags.backoff_max);
    std::uint32_t rnd = 0;
    (void)::getrandom(&rnd, sizeof rnd, GRND_NONBLOCK);
    delay = base + std::chrono::milliseconds{base.count() > 0 ? rnd % (base.count() / 4 + 1) : 0};
    r.action += " in " + std::to_string(delay.count()) + " ms";
  }
  ++c.in_a_row;
  report(std::move(r));

  // The children to start again, in spec order. Temporary siblings the strategy stopped are
  // dropped, as OTP drops their specs.
  auto begin = spec_.flags.how == strategy::one_for_all ? std::size_t{0} : index_of(&c);
  auto end = spec_.flags.how == strategy::one_for_one || spec_.flags.how == strategy::simple_one_for_one
               ? index_of(&c) + 1
               : children_.size();
  std::vector<std::string> group;
  std::vector<std::string> dropped;
  for (auto i = begin; i < end; ++i) {
    auto& each = *children_[i];
    if (each.running)
      continue;
    if (each.spec.restart == restart_type::temporary && &each != &c) {
      dropped.push_back(each.spec.id);
      continue;
    }
    each.restarting = true;
    group.push_back(each.spec.id);
  }
  for (auto& id : dropped)
    if (auto* t = find(id))
      retire(*t, {exit_kind::shutdown, 0, false, "a temporary child stopped by its strategy"});
  if (delay.count() == 0)
    restart_group(group); // now, as OTP does: not after a trip through the event loop
  else
    schedule_restart(std::move(group), delay);
}

void supervisor_actor::schedule_restart(std::vector<std::string> ids, std::chrono::milliseconds delay) {
  // Found again by id when the timer fires: a child stopped or deleted meanwhile is skipped.
  auto token = ++next_restart_;
  auto t = std::make_unique<boost::asio::steady_timer>(self_.io_context());
  t->expires_after(delay);
  t->async_wait([this, token, ids = std::move(ids)](const boost::system::error_code& ec) {
    auto it = restart_timers_.find(token);
    if (it == restart_timers_.end())
      return;
    auto keep = std::move(it->second); // destroyed after this handler
    restart_timers_.erase(it);
    if (!ec && !shutting_down_)
      restart_group(ids);
  });
  restart_timers_.emplace(token, std::move(t));
}

void supervisor_actor::restart_group(const std::vector<std::string>& ids) {
  // In order, each after the one before is ready; a failure takes the rest of the group with it
  // into the next attempt, so the order holds.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto* c = find(ids[i]);
    if (c == nullptr || c->running || !c->restarting)
      continue;
    ++c->restarts;
    try {
      start(*c);
    } catch (const spawn_error& e) {
      // A failed restart counts as a restart (OTP): try again, unless intensity is reached.
      crash_report r{name_, c->spec.id, 0, e.error().reason, {}, {}, c->restarts, {}};
      if (!note_restart()) {
        r.action = "shutdown: restart intensity reached (restart failed)";
        report(std::move(r));
        give_up();
        return;
      }
      r.action = "restart failed; trying again";
      report(std::move(r));
      schedule_restart({ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end()},
                       std::max(spec_.flags.backoff_initial, std::chrono::milliseconds{10}));
      return;
    }
  }
}

bool supervisor_actor::note_restart() {
  auto now = clock::now();
  restart_times_.push_back(now);
  while (!restart_times_.empty() && now - restart_times_.front() > spec_.flags.period)
    restart_times_.pop_front();
  rearm_standbys(); // with less room left, a standby may not restart by itself
  return restart_times_.size() <= spec_.flags.intensity;
}

void supervisor_actor::give_up() {
  // OTP: stop every child, then the supervisor, with reason shutdown; its parent decides next.
  shutting_down_ = true;
  rearm_standbys(); // none takes over from here on
  self_.quit({exit_kind::shutdown, 0, false, "reached max restart intensity"});
}

void supervisor_actor::check_watchdogs() {
  auto now = monotonic_ns();
  for (auto& cp : children_) {
    auto& c = *cp;
    if (!c.running || c.spec.watchdog.count() == 0)
      continue;
    auto since = c.box.cell().handler_since.load(std::memory_order_acquire);
    auto limit = static_cast<std::uint64_t>(c.spec.watchdog.count()) * 1000000u;
    if (since != 0 && now > since && now - since > limit && !c.unresponsive) {
      c.unresponsive = true;
      if (c.pid > 0)
        ::kill(-c.pid, SIGKILL); // its pidfd fires next: on_exit_of() restarts it
    }
  }
}

void supervisor_actor::report(crash_report r) {
  if (spec_.flags.log_crash_reports)
    std::fprintf(stderr, "%s\n", to_string(r).c_str());
  std::vector<char> scratch;
  auto bytes = item_bytes(r, scratch);
  std::erase_if(subscribers_, [&](const actor_ref& to) {
    // Never waits for a full subscriber (restarts must not); a subscriber that is gone is dropped.
    auto err = self_.core().send(to, message_traits<crash_report>::id, 0, 0, bytes, true);
    return err && err->code == actor_errc::noproc;
  });
  reports_.push_back(std::move(r));
  if (reports_.size() > 1000)
    reports_.pop_front();
}

std::size_t supervisor_actor::kept_dead_letters() const noexcept {
  return std::max<std::uint32_t>(spec_.flags.dead_letters_kept, 1);
}

void supervisor_actor::forget_dead_letters(std::size_t keep) {
  while (dead_.size() > keep) {
    const auto& old = dead_.front();
    std::fprintf(stderr,
                 "proctor: %s: dead letter forgotten: a %s from %s to child %s (%u bytes); "
                 "the last %zu kept\n",
                 name_.c_str(), old.type.c_str(), old.sender.empty() ? "?" : old.sender.c_str(),
                 old.child_id.c_str(), old.payload_size, kept_dead_letters());
    dead_payload_bytes_ -= old.payload.size(); // its room goes to the letters still to come
    dead_.pop_front();
  }
}

// -- lookups ----------------------------------------------------------------------------------

supervisor_actor::child* supervisor_actor::find(const std::string& id) {
  for (auto& c : children_)
    if (c->spec.id == id)
      return c.get();
  return nullptr;
}

std::size_t supervisor_actor::index_of(const child* c) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].get() == c)
      return i;
  return children_.size();
}

std::vector<child_info> supervisor_actor::info() const {
  std::vector<child_info> out;
  for (auto& c : children_)
    out.push_back({c->spec.id, c->box.ref, c->running ? c->pid : 0, c->spec.type, c->running,
                   c->restarts, c->standby && c->standby_up ? c->standby->pid().value_or(0) : 0});
  return out;
}

// -- the API, as messages -----------------------------------------------------------------------

behavior supervisor_actor::make_behavior() {
  using result_ref = expected<actor_ref, actor_error>;
  using result_ok = expected<ok_msg, actor_error>;
  return {
    [this](const sup_start_child& m) -> result_ref {
      child_spec s = m.spec;
      if (spec_.flags.how == strategy::simple_one_for_one) {
        auto tmpl = spec_.children.front();
        tmpl.start.args += s.start.args;
        tmpl.id = tmpl.id + "-" + std::to_string(++dynamic_ids_);
        s = tmpl;
      } else if (s.id.empty() || find(s.id) != nullptr) {
        return sup_error(s.id.empty() ? "a child id is empty" : "already_present: " + s.id);
      }
      auto c = std::make_unique<child>();
      c->spec = s;
      children_.push_back(std::move(c));
      try {
        start(*children_.back());
      } catch (const spawn_error& e) {
        children_.pop_back();
        return e.error();
      }
      return children_.back()->box.ref;
    },
    [this](const sup_terminate_child& m) -> result_ok {
      auto* c = find(m.id);
      if (c == nullptr)
        return sup_error("not_found: " + m.id);
      if (c->spec.restart == restart_type::temporary || spec_.flags.how == strategy::simple_one_for_one)
        retire(*c, {exit_kind::shutdown, 0, false, "terminated"});
      else
        stop(*c);
      return ok_msg{};
    },
    [this](const sup_restart_child& m) -> result_ref {
      auto* c = find(m.id);
      if (c == nullptr)
        return sup_error("not_found: " + m.id);
      if (c->running)
        return sup_error("running: " + m.id);
      try {
        start(*c);
      } catch (const spawn_error& e) {
        return e.error();
      }
      return c->box.ref;
    },
    [this](const sup_delete_child& m) -> result_ok {
      auto* c = find(m.id);
      if (c == nullptr)
        return sup_error("not_found: " + m.id);
      if (c->running || c->restarting)
        return sup_error("running: " + m.id);
      retire(*c, {exit_kind::shutdown, 0, false, "deleted"});
      return ok_msg{};
    },
    [this](const sup_which_children&) {
      settle_standbys();
      return info();
    },
    [this](const sup_count_children&) {
      settle_standbys();
      child_counts n;
      // OTP: a simple_one_for_one supervisor has one spec, however many children run it.
      n.specs = spec_.flags.how == strategy::simple_one_for_one
                  ? 1u
                  : static_cast<std::uint32_t>(children_.size());
      for (auto& c : children_) {
        n.active += c->running ? 1 : 0;
        (c->spec.type == child_type::supervisor ? n.supervisors : n.workers) += 1;
      }
      return n;
    },
    [this](const sup_crash_reports&) {
      return std::vector<crash_report>(reports_.begin(), reports_.end());
    },
    [this](const sup_dead_letters&) { return std::vector<dead_letter>(dead_.begin(), dead_.end()); },
    [this](const sup_subscribe& m) {
      subscribers_.push_back(m.to);
      return ok_msg{};
    },
  };
}

} // namespace proctor::detail
