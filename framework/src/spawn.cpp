#include "proctor/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "actor_core.hpp"
#include "exit_request.hpp"
#include "futex.hpp"
#include "mailbox.hpp"
#include "per_process.hpp"
#include "process_state.hpp"
#include "proctor/scoped_actor.hpp"
#include "registry_table.hpp"
#include "runtime.hpp"
#include "segment_name.hpp"
#include "spawn_internals.hpp"
#include "standby.hpp"
#include "sys.hpp"

namespace proctor::detail {

void record_exit(actor_cell& cell, const exit_reason& why) {
  cell.exit_kind = static_cast<std::uint32_t>(why.kind);
  cell.exit_code = why.code;
  set_field(cell.exit_detail, why.detail);
  cell.state.store(cell.supervised != 0 ? cell_down : cell_exited, std::memory_order_release);
  futex_wake(cell.state);
}

namespace {

using clock = std::chrono::steady_clock;

// -- the spawner's side: mailboxes of the actors this process started -------------------------

struct spawned_actor {
  mailbox_owner box;
  process proc;

  spawned_actor(mailbox_owner b, process p) noexcept : box(std::move(b)), proc(std::move(p)) {}
  spawned_actor(spawned_actor&&) noexcept = default;
  /// The mailbox's names go with the entry, even while this process's link to it (which shares
  /// the mapping: see adopt_link()) keeps it mapped a little longer.
  spawned_actor& operator=(spawned_actor&& other) noexcept {
    if (this != &other) {
      box.unlink_names();
      box = std::move(other.box);
      proc = std::move(other.proc);
    }
    return *this;
  }
  ~spawned_actor() { box.unlink_names(); }
};

struct spawned_table {
  std::mutex mu;
  std::vector<spawned_actor> actors;
};

/// At the exit of the process that made the table, its actors' mailboxes are released (and their
/// names unlinked) as static objects go.
struct release_at_exit {
  ~release_at_exit() {
    auto* table = per_process<spawned_table>();
    if (table == nullptr) // a forked child has a table of its own (per_process)
      return;
    std::lock_guard guard{table->mu};
    table->actors.clear();
  }
};

/// This process's table. A forked child starts with an empty one: the parent's actors are not
/// the child's, and their mailboxes are not mapped there (MADV_DONTFORK).
spawned_table& spawned() {
  static release_at_exit at_exit;
  auto* table = per_process<spawned_table>();
  if (table == nullptr)
    throw std::bad_alloc{};
  return *table;
}

/// The reason for an actor whose process ended without recording one, from its exit status.
exit_reason reason_from_status(const actor_cell& cell, std::optional<int> code) {
  if (!code || has_ended(cell) || cell.kill_requested.load() != 0)
    return recorded_reason(cell);
  if (*code < 0)
    return {exit_kind::signal, -*code, false, {}};
  if (*code == 0)
    return {};
  return {exit_kind::exit_code, *code, false, {}};
}


/// Releases the mailboxes of actors that have ended (this process started them), after writing
/// the exact reason into the cell of any that died without a word.
void release_ended(spawned_table& t) {
  std::erase_if(t.actors, [](spawned_actor& a) {
    // The exit status of a child of the zygote comes a moment after the child has ended (the
    // zygote reaps it): the process's own state in /proc says so at once.
    auto& cell = a.box.cell();
    auto gone = [&] { // the process the cell names no longer runs (zombies count as gone)
      return run_ended(cell.pid.load(), cell.start_time.load());
    };
    // The pidfd, not the sentinel: a forkserver child's sentinel (the zygote's status socket)
    // also reads end of file while the child runs, if the zygote's reaper was killed.
    int pidfd = process_access::pidfd(a.proc); // the entry keeps the process open
    if (a.proc.is_alive() && !(pidfd >= 0 && wait_readable(pidfd, std::chrono::nanoseconds{0}))
        && !gone())
      return false;
    if (!has_ended(cell))
      record_exit(cell, reason_from_status(cell, a.proc.exitcode()));
    return true;
  });
}

// -- the actor's side -----------------------------------------------------------------------

actor_cell* fatal_cell = nullptr;

extern "C" void record_fatal_signal(int sig) {
  if (fatal_cell != nullptr)
    fatal_cell->fatal_signal.store(static_cast<std::uint32_t>(sig), std::memory_order_release);
  ::raise(sig); // SA_RESETHAND: the default action now ends the process
}

void apply_limits(const actor_cell& cell) {
  auto limit = [](int resource, std::uint64_t value) {
    if (value == 0)
      return;
    rlimit rl{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    if (resource == RLIMIT_CPU) // SIGXCPU at the soft limit (a recorded exit reason), KILL later
      rl.rlim_max = rl.rlim_cur + 1;
    ::setrlimit(resource, &rl);
  };
  limit(RLIMIT_AS, cell.limit_memory);
  limit(RLIMIT_CPU, cell.limit_cpu);
  limit(RLIMIT_NOFILE, cell.limit_files);
}

void install_fatal_handlers(actor_cell* cell) {
  fatal_cell = cell;
  struct sigaction sa{};
  sa.sa_handler = record_fatal_signal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1,
                  SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGXCPU, SIGXFSZ, SIGSYS, SIGVTALRM, SIGPROF})
    ::sigaction(sig, &sa, nullptr);
}

} // namespace

void release_ended_actors() noexcept {
  try {
    auto& table = spawned();
    std::lock_guard guard{table.mu};
    release_ended(table);
  } catch (...) {
  }
}

namespace {

/// A new actor's mailbox as its spawner has it mapped, for the child a fork makes of the spawner
/// (spawn_actor() under the fork start method): the child takes the mappings it inherited instead
/// of mapping the mailbox again by name. Set only around the fork, by a process that has a single
/// thread.
struct handed_down_mailbox {
  std::string cell_name;
  shared_object cell_obj;
  ring messages;
};

/// The spawner's slot, which points into spawn_actor()'s frame: in the child, that frame is still
/// there (the child runs the actor below it, and ends without returning into it).
handed_down_mailbox* handed_down = nullptr;

/// The mailbox named `cell_name` if this process is the child forked to run it; empty otherwise.
handed_down_mailbox take_handed_down(const std::string& cell_name) noexcept {
  auto* h = std::exchange(handed_down, nullptr);
  if (h == nullptr || h->cell_name != cell_name)
    return {};
  return std::move(*h);
}

/// Writes the identity of the process that runs the actor of `cell`: its start time, then its
/// pid (release), so that whoever reads the pid (acquire) reads the start time that goes with it
/// (pin_run() takes the two as a pair), and a process that finds its own pid there finds its own
/// start time too.
void write_identity(actor_cell& cell, const segment_run& run) noexcept {
  cell.start_time.store(run.start_time, std::memory_order_relaxed);
  cell.pid.store(run.pid, std::memory_order_release);
}

} // namespace

void record_identity(actor_cell& cell, pid_t pid) noexcept {
  if (pid <= 0)
    return;
  auto st = read_proc_stat(pid);
  if (!st || st->start_time == 0)
    return;
  write_identity(cell, {pid, st->start_time});
}

unique_fd pidfd_of_spawned(std::uint64_t actor_id, pid_t pid) noexcept {
  auto* table = per_process<spawned_table>();
  if (table == nullptr || pid <= 0)
    return {};
  try {
    std::lock_guard guard{table->mu};
    // From the newest: an actor is most often watched right after it was spawned.
    for (auto it = table->actors.rbegin(); it != table->actors.rend(); ++it) {
      auto& a = *it;
      if (a.box.ref.id() != actor_id)
        continue;
      if (a.proc.pid() != pid)
        return {}; // another process than the one the cell names
      return process_access::dup_pidfd(a.proc);
    }
  } catch (...) { // a process handle closed meanwhile: the caller looks the usual way
  }
  return {};
}

void wait_ready(actor_cell& cell, process& proc, std::chrono::milliseconds timeout,
                const std::string& name, std::uint32_t readies_before) {
  auto until = clock::now() + timeout;
  auto fail = [&](std::string why, exit_reason reason) -> spawn_error {
    return spawn_error{actor_error{actor_errc::spawn_failed, std::move(why), std::move(reason)}};
  };
  for (;;) {
    auto st = cell.state.load(std::memory_order_acquire);
    // Ready once, then maybe ended already (its first message may crash it): a start all the
    // same, and the end is the supervisor's (or the monitors') to see.
    if (st == cell_running || cell.readies.load(std::memory_order_acquire) != readies_before)
      return;
    if (st == cell_exited || st == cell_down) {
      auto why = recorded_reason(cell);
      proc.join(std::chrono::seconds{5});
      if (proc.is_alive()) {
        proc.kill();
        proc.join();
      }
      throw fail("actor '" + name + "' ended during init: " + to_string(why), why);
    }
    if (!proc.is_alive()) {
      auto why = reason_from_status(cell, proc.exitcode());
      throw fail("actor '" + name + "' died during init: " + to_string(why), why);
    }
    auto now = clock::now();
    if (now >= until) {
      proc.kill();
      proc.join();
      auto ms = timeout.count();
      throw fail("actor '" + name + "' did not finish init within " + std::to_string(ms) + " ms",
                 {exit_kind::killed, 9, false, "start timeout"});
    }
    futex_wait(cell.state, st, std::min(until, now + std::chrono::milliseconds{20}));
  }
}

actor_ref spawn_actor(const spawn_options& opts,
                      const std::function<process(const segment_handle&, process::options)>& launch) {
  auto& table = spawned();
  {
    std::lock_guard guard{table.mu};
    release_ended(table);
  }
  auto box = create_mailbox(opts);
  auto cell_handle = box.cell_obj.handle("actor mailbox");
  auto method = opts.method.value_or(get_start_method());
  auto proc = launch(cell_handle, process::options{opts.name, true, opts.method});
  if (method == start_method::fork) {
    // The child forked now keeps the mappings (and so need not map its mailbox by name); no
    // process forked later has any use for them. A fork needs a single thread: nothing else
    // forks meanwhile.
    handed_down_mailbox here{cell_handle.name, box.cell_obj, box.messages};
    handed_down = &here;
    struct keep_out_of_later_forks {
      mailbox_owner& box;
      ~keep_out_of_later_forks() {
        handed_down = nullptr;
        box.cell_obj.dont_fork();
        box.messages.dont_fork();
      }
    } keep_out{box};
    proc.start();
  } else {
    box.cell_obj.dont_fork();
    box.messages.dont_fork();
    proc.start();
  }
  record_identity(box.cell(), proc.pid().value_or(0));
  // An actor forked here is most often ready within a few hundred microseconds: its spawner
  // need not then be woken (not a zygote's child, see look_a_while()).
  if (method == start_method::fork)
    (void)look_a_while(
      [&cell = box.cell()] { return cell.state.load(std::memory_order_acquire) != cell_starting; });
  wait_ready(box.cell(), proc, opts.start_timeout, opts.name, 0);
  adopt_link(box, false);
  auto ref = box.ref;
  std::lock_guard guard{table.mu};
  try {
    table.actors.emplace_back(std::move(box), std::move(proc));
  } catch (...) { // no memory for the entry: the link must not keep the names
    box.unlink_names();
    throw;
  }
  return ref;
}

void run_actor(const segment_handle& cell_handle, const std::function<actor_program(actor&)>& make) {
  // A child ends with _exit, past every static destructor: release the mailboxes of the actors
  // this one started here, whichever way it ends (their processes are stopped by the runtime).
  struct release_spawned {
    ~release_spawned() {
      try {
        auto& table = spawned();
        std::lock_guard guard{table.mu};
        table.actors.clear();
      } catch (const std::exception&) { // no table to clear
      }
    }
  } release;
  // Forked by its spawner: the mailbox is mapped here already.
  auto inherited = take_handed_down(cell_handle.name);
  bool forked_here = static_cast<bool>(inherited.cell_obj);
  auto cell_obj = forked_here ? std::move(inherited.cell_obj)
                              : shared_object::open(cell_handle, cell_segment_size, cell_magic,
                                                    "actor mailbox");
  auto& cell = *static_cast<actor_cell*>(cell_obj.get("actor mailbox"));
  // Mapped until the process ends, whichever way it ends: its last word (finished) is written
  // there, and the kernel releases the life lock there as the process dies.
  static shared_object kept;
  kept = cell_obj;
  // A supervisor's warm standby (child_spec::standby) sets up all it can, then waits to take over:
  // the cell is the running incarnation's until then.
  bool standby = cell.supervised != 0 && cell.standby_call.exchange(0) != 0;
  // Read now by a standby, which takes over in a hurry later; by any other, only if the process
  // that started it has not written it yet (record_identity()).
  std::optional<segment_run> run;
  if (standby || cell.pid.load(std::memory_order_acquire) != ::getpid()
      || cell.start_time.load(std::memory_order_relaxed) == 0)
    run = current_run();
  if (!standby && run)
    write_identity(cell, *run);
  if (cell.stderr_fd >= 0 && cell.stderr_pid > 0) {
    // The supervisor keeps the last lines for its crash reports (and passes the rest on).
    auto path = "/proc/" + std::to_string(cell.stderr_pid) + "/fd/" + std::to_string(cell.stderr_fd);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st{};
    // Only a pipe: a scribbled cell must not point the actor's stderr at some file.
    if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
      int flags = ::fcntl(fd, F_GETFL);
      ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      ::dup2(fd, STDERR_FILENO);
    }
    if (fd >= 0)
      ::close(fd);
  }
  if (standby) {
    apply_limits(cell);
    // Mapped while it waits: the mailbox is the supervisor's, the same for every incarnation.
    // (Mapped again by name after the takeover if that fails, or if the cell names another.)
    try {
      inherited.messages = ring::open(
        segment_handle{field_string(cell.ring_name), cell.ring_size}, mailbox_type_tag);
    } catch (const std::exception&) {
    }
    if (!stand_by(cell))
      throw exit_request{0}; // the supervisor restarts it, or not: not this process's business
    take_over(cell);
    write_identity(cell, *run);
    install_fatal_handlers(&cell);
  } else {
    // Held until this process ends: its end wakes the standby, if there is one.
    if (cell.supervised != 0 && !hold_life(cell, std::chrono::seconds{2}))
      std::fprintf(stderr, "proctor: %s: its life lock could not be taken: no standby can take "
                           "over from this incarnation\n",
                   to_string(make_ref(cell.id, cell_handle.name)).c_str());
    install_fatal_handlers(&cell);
    apply_limits(cell);
  }

  auto self_ref = make_ref(cell.id, cell_handle.name);
  exit_reason why;
  {
    std::unique_ptr<actor_core> core;
    actor_program prog;
    actor self{nullptr}; // lives as long as the actor: its code keeps `actor&`
    try {
      core = std::make_unique<actor_core>(self_ref, true, cell_obj, std::move(inherited.messages));
      self = actor{core.get()};
      prog = make(self);
    } catch (const exit_request& r) {
      record_exit(cell, {exit_kind::exit_code, r.code, false, "in init"});
      throw exit_request{r.code == 0 ? 1 : r.code};
    } catch (const std::exception& e) {
      record_exit(cell, {exit_kind::exception, 0, false, std::string{"in init: "} + e.what()});
      throw exit_request{1};
    }
    core->become(std::move(prog.initial));
    cell.readies.fetch_add(1, std::memory_order_release);
    cell.state.store(cell_running, std::memory_order_release);
    futex_wake(cell.state);
    if (standby)
      end_takeover(); // ready: from here on it runs with the usual slice

    why = core->run();
    if (prog.on_exit) {
      try {
        prog.on_exit(why);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "proctor: %s: on_exit threw: %s\n", to_string(self_ref).c_str(), e.what());
      }
    }
    forget_names_of(cell.id);
    core->notify_links(why);
    record_exit(cell, why);
    fatal_cell = nullptr; // no fatal signal is the actor's from here on
    if (cell.supervised == 0) {
      // Wakes senders blocked on a full mailbox: noproc from now on. The names go too (processes
      // that mapped the mailbox keep it; new ones get noproc): the spawner may not look for a
      // while, and an ended actor's mailbox should not outlive it in /dev/shm.
      core->mailbox().messages().close();
      ::shm_unlink(core->mailbox().messages().handle().name.c_str());
      ::shm_unlink(cell_handle.name.c_str());
    }
  }
  runtime::get().finish_word(&cell.finished); // in the cell kept mapped above
  if (why.kind != exit_kind::normal && why.kind != exit_kind::shutdown)
    throw exit_request{why.kind == exit_kind::exit_code && why.code != 0 ? why.code : 1};
}

// -- scoped_actor ------------------------------------------------------------------------------

namespace {

struct scoped_box {
  mailbox_owner box;
  std::unique_ptr<actor_core> core;

  scoped_box() = default;
  scoped_box(const scoped_box&) = delete;
  scoped_box& operator=(const scoped_box&) = delete;
  /// The names go with the box; the mapping, shared with the process's link to its own mailbox
  /// (adopt_link()), once that link is unmapped too.
  ~scoped_box() { box.unlink_names(); }
};

struct scoped_table {
  std::mutex mu;
  std::unordered_map<actor_core*, std::unique_ptr<scoped_box>> boxes;
};

scoped_table& scoped() {
  static auto* t = new scoped_table;
  return *t;
}

} // namespace

actor_core* make_scoped_core(const std::string& name, std::size_t mailbox_bytes) {
  spawn_options opts;
  opts.name = name;
  opts.mailbox_bytes = mailbox_bytes;
  auto holder = std::make_unique<scoped_box>();
  holder->box = create_mailbox(opts);
  auto& cell = holder->box.cell();
  write_identity(cell, current_run());
  cell.scoped = 1;
  cell.state.store(cell_running);
  adopt_link(holder->box, true); // its own link (actor_core) maps neither segment again
  holder->core = std::make_unique<actor_core>(holder->box.ref, false);
  auto* raw = holder->core.get();
  auto& t = scoped();
  std::lock_guard guard{t.mu};
  t.boxes.emplace(raw, std::move(holder));
  return raw;
}

void destroy_core(actor_core* core) noexcept {
  auto& t = scoped();
  std::unique_ptr<scoped_box> holder;
  {
    std::lock_guard guard{t.mu};
    auto it = t.boxes.find(core);
    if (it == t.boxes.end())
      return;
    holder = std::move(it->second);
    t.boxes.erase(it);
  }
  forget_names_of(holder->box.cell().id);
  record_exit(holder->box.cell(), {});
  holder->box.messages.close();
  holder.reset();
  release_ended_actors(); // the caller's actors that ended meanwhile
}

} // namespace proctor::detail
