#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "forkserver.hpp"
#include "launch_request.hpp"
#include "proctor/current_process.hpp"

namespace proctor::detail {

struct process_state;

/// The proctor state of one OS process: who it is, the children it started and its zygote.
/// One instance per process (a child resets it with become_child()).
/// @note Thread-safe; mu guards children and zygote.
class runtime {
 public:
  static runtime& get();

  // -- identity -------------------------------------------------------------------------------

  [[nodiscard]] process_info self() const;
  [[nodiscard]] std::optional<process_info> parent() const;
  [[nodiscard]] bool is_child() const noexcept { return parent_.has_value(); }

  /// The next child's position: "N" in the main process, "<ident>:N" below it.
  [[nodiscard]] std::string next_ident();

  /// Makes the calling (new) child this process: identity from its parent, no children, no zygote.
  /// Called right after fork, or by a spawned/forkserver child before its target runs.
  void become_child(const launch_request& req);

  // -- children -------------------------------------------------------------------------------

  /// Remembers a started child until it is reaped.
  void adopt(std::shared_ptr<process_state> child);

  /// Forgets a reaped or closed child.
  void forget(const process_state* child);

  /// Reaps the children that ended; returns the live ones.
  std::vector<std::shared_ptr<process_state>> live_children();

  /// What start() does first, as multiprocessing does: reaps the children that ended. Looks at
  /// every child only once per (children / 8) starts, so that a process with thousands of
  /// children (a supervisor) does not pay for all of them at every start.
  void reap_ended_children();

  /// Python's exit function: terminates daemon children, joins the rest. Runs at normal exit of
  /// the main process and at the end of every child's target.
  void shutdown_children() noexcept;

  // -- start methods --------------------------------------------------------------------------

  void mark_init(int argc, char** argv);
  [[nodiscard]] bool init_called() const noexcept { return init_called_; }
  [[nodiscard]] const std::string& argv0() const noexcept { return argv0_; }

  /// The zygote, started now if needed: a fresh run of the program once init() has been called
  /// (init() itself starts a fork of the program as it is then). Throws if it cannot be started
  /// (threads already run).
  std::shared_ptr<forkserver_client> zygote();

  /// Starts the zygote if this process is still single-threaded; quiet otherwise. `at_init`:
  /// from init(), a fork of the program as it is now.
  void start_zygote_if_possible(bool at_init = false) noexcept;

  /// Stops the zygote and waits for it (at exit).
  void stop_zygote() noexcept;

  /// True if this process runs a zygote now.
  [[nodiscard]] bool has_zygote() const;

  /// The zygote's pid, or 0.
  [[nodiscard]] pid_t zygote_pid() const;

  // -- the end --------------------------------------------------------------------------------

  /// A word (in shared memory that stays mapped) that run_child_target() sets to 1 as the last
  /// thing before _exit: an actor's cell tells its supervisor that its process has finished.
  /// A child starts without one.
  void finish_word(std::atomic<std::uint32_t>* word) noexcept { finish_word_.store(word); }
  [[nodiscard]] std::atomic<std::uint32_t>* finish_word() const noexcept { return finish_word_.load(); }

 private:
  runtime();

  std::shared_ptr<forkserver_client> zygote(forkserver_client::origin how);

  mutable std::mutex mu_;
  std::condition_variable zygote_ready_;
  bool zygote_starting_ = false;
  std::string name_ = "main-process";
  std::string ident_;
  bool daemon_ = false;
  unsigned counter_ = 0;
  std::size_t starts_since_reap_ = 0;
  std::optional<process_info> parent_;
  std::vector<std::shared_ptr<process_state>> children_;
  /// Shared with the threads that launch through it, so that it outlives a launch under way when
  /// another thread retires or replaces it.
  std::shared_ptr<forkserver_client> zygote_;
  /// Zygotes that take no more requests (this process's credentials or confinement changed since
  /// they started) and end after their last child.
  std::vector<std::shared_ptr<forkserver_client>> retired_zygotes_;
  bool init_called_ = false;
  std::string argv0_;
  std::atomic<std::atomic<std::uint32_t>*> finish_word_{nullptr};
};

/// Runs a child's target and ends the process with its exit code: 0 on return, n for
/// proctor::exit(n), 1 with a message on stderr for an uncaught exception. Never returns.
[[noreturn]] void run_child_target(const std::function<void()>& target);

/// Runs the registered entry named in `req` (spawn and forkserver children). Never returns.
[[noreturn]] void run_child_entry(const launch_request& req);

} // namespace proctor::detail
