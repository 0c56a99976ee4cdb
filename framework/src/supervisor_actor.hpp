#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mailbox.hpp"
#include "unique_fd.hpp"
#include "proctor/actor.hpp"
#include "proctor/supervisor.hpp"

namespace proctor::detail {

/// The supervisor process: OTP's supervisor as a proctor actor. Its children's mailboxes are its
/// own (so they outlive crashes); it forks each child, watches the child's pidfd on its loop, and
/// applies the restart strategy, intensity and backoff. Every state change happens on its loop;
/// the public API (supervisor.hpp) only sends it requests.
class supervisor_actor {
 public:
  supervisor_actor(actor& self, supervisor_spec spec);
  ~supervisor_actor();

  /// Starts the children in order; throws (after stopping those started) if one fails.
  void init();
  behavior make_behavior();
  /// Stops every child, in reverse order, by its shutdown spec.
  void on_exit(const exit_reason& why);

 private:
  using clock = std::chrono::steady_clock;

  /// Watches a descriptor owned by someone else (the process handle's pidfd): never closes it.
  struct borrowed {
    void operator()(boost::asio::posix::stream_descriptor* d) const noexcept {
      boost::system::error_code ignored;
      d->cancel(ignored);
      d->release();
      delete d;
    }
  };

  struct child {
    child_spec spec;
    mailbox_owner box;
    std::optional<process> proc;
    std::int32_t pid = 0;
    bool running = false;
    bool restarting = false;        ///< A restart is scheduled (backoff) or failed and waits.
    std::unique_ptr<boost::asio::posix::stream_descriptor, borrowed> watch;
    std::unique_ptr<boost::asio::posix::stream_descriptor> err;
    std::string err_partial;
    std::deque<std::string> err_tail;
    std::uint32_t restarts = 0;     ///< Restarts so far.
    std::uint32_t in_a_row = 0;     ///< Restarts since it last ran for stable_after.
    clock::time_point started{};
    std::uint64_t crash_pos = 0;    ///< The mailbox position it last crashed on (+1), and how
    std::uint32_t crash_count = 0;  ///< often in a row.
    bool unresponsive = false;      ///< Killed by the watchdog.
    bool new_box = false;           ///< The mailbox is new: the next start is not a restart.
    std::optional<process> standby; ///< Its warm standby (spec.standby).
    bool standby_up = false;        ///< The standby is set up and waits (else it starts).
    std::uint32_t standby_ready_before = 0; ///< actor_cell::standby_ready before it started.
    unique_fd standby_err;          ///< The read end of the standby's stderr pipe.
    unique_fd standby_err_write;    ///< Its write end, held until the standby has opened it.
    bool start_timed_out = false;   ///< Killed for an init that outlasted its start timeout.
    std::uint32_t incarnation = 0;  ///< actor_cell::incarnation of the one running.
    std::uint64_t err_gen = 0;      ///< Which stderr pipe `err` is (each new one counts up).
  };

  child* find(const std::string& id);
  std::size_t index_of(const child* c) const;
  /// Starts `c` (throws spawn_error); makes `ahead`'s mailbox while `c` runs its init.
  void start(child& c, child* ahead = nullptr);
  void make_mailbox(child& c);     ///< Throws spawn_error.
  /// Stops the child: SIGTERM to its process group, SIGKILL at its shutdown deadline. With
  /// `let_finish`, returns once its process has finished (actor_cell::finished), and leaves the
  /// wait for its end to finish_stopped().
  void stop(child& c, bool let_finish = false);
  /// Waits for the processes stop() left finishing.
  void finish_stopped();
  /// Passes on what the child's stderr holds now (a bounded amount, or `all` of it); true at its
  /// end of file.
  bool drain_stderr(child& c, bool all = false);
  enum class stderr_left { none, later, more }; ///< end of file; nothing now; more than was read
  /// Reads a bounded amount of the child's stderr and passes it on.
  stderr_left drain_stderr_some(child& c);
  /// Reads what is left in the child's stderr pipe, passes it on (a last line without its
  /// newline too) and closes the pipe.
  void close_stderr(child& c);
  /// Passes the child's stderr on, line by line, keeping the last lines for crash reports.
  void take_stderr(child& c, const char* data, std::size_t n);
  void pass_stderr_line(child& c, std::string line);
  void watch(child& c);
  void read_stderr(child& c);
  void on_exit_of(child* c);
  // -- warm standbys (child_spec::standby; the child's side is in standby.hpp) ------------------
  /// Whether a standby could ever take over from `c` (spec.standby, and a permanent child of a
  /// one_for_one or simple_one_for_one supervisor without backoff): else none is started.
  bool standby_can_help(const child& c) const;
  /// Starts `c`'s standby; it is armed once it says it waits (see watch_standby_setup()).
  void launch_standby(child& c);
  /// Looks every millisecond until the standby being set up waits, ends, or runs out of time.
  void watch_standby_setup(child& c, clock::time_point until);
  /// A failed standby: said on stderr, and ended.
  void standby_failed(child& c, const std::string& why);
  /// launch_standby() from the event loop, soon: not in the middle of a restart.
  void post_standby(child& c);
  /// Whether `c`'s standby may restart it by itself now: exactly when a death without a word
  /// would be restarted at once, here.
  bool standby_may_take_over(const child& c) const;
  void arm_standby(child& c);     ///< Tells `c`'s standby what standby_may_take_over() says.
  void rearm_standbys();          ///< arm_standby() for every child.
  /// Settles the standby's part in the end of the incarnation `c` runs: true if it took over
  /// already (it is adopted next); otherwise it can no longer, and is sent away.
  bool standby_took_over(child& c);
  void dismiss_standby(child& c); ///< Ends and reaps the standby.
  /// The standby took over from the incarnation that ended `why`: it is the child's process
  /// now; the restart is counted and reported as the supervisor's own.
  void adopt_standby(child& c, exit_reason why);
  /// Adopts the standbys that took over, and replaces those that died waiting: for answers that
  /// must name the running processes.
  void settle_standbys();
  exit_reason reason_of(child& c);
  void handle_crash(child& c, exit_reason why);
  /// Why the incarnation a standby took over from ended: its wait status, or `killed` (the
  /// standby saw a `kill` request in the cell, and kept it in the previous exit's reason).
  exit_reason reason_after_takeover(child& c);
  bool note_restart();             ///< False once intensity is exceeded.
  void schedule_restart(std::vector<std::string> ids, std::chrono::milliseconds delay);
  void restart_group(const std::vector<std::string>& ids);
  /// Stops the child for good: its mailbox is closed, waiting requests are answered.
  void close_for_good(child& c, const exit_reason& why, bool let_finish = false);
  /// close_for_good() and the spec is dropped.
  void retire(child& c, const exit_reason& why);
  void give_up();
  void check_watchdogs();
  /// Reaps adopted orphans that ended; with `kill_them`, ends and reaps them all.
  void collect_orphans(bool kill_them);
  void report(crash_report r);
  /// Forgets the oldest dead letters until at most `keep` are left, each with a line on stderr.
  void forget_dead_letters(std::size_t keep);
  [[nodiscard]] std::size_t kept_dead_letters() const noexcept;
  std::vector<child_info> info() const;

  actor& self_;
  supervisor_spec spec_;
  std::string name_;
  std::vector<std::unique_ptr<child>> children_;
  /// Children stopped whose processes may not be gone yet (see stop()).
  std::vector<process> finishing_;
  std::deque<clock::time_point> restart_times_;
  std::deque<crash_report> reports_; ///< The last 1,000.
  std::deque<dead_letter> dead_; ///< The last spec_.flags.dead_letters_kept.
  std::size_t dead_payload_bytes_ = 0; ///< Kept in dead_: at most dead_letter_payload_budget.
  std::vector<actor_ref> subscribers_;
  std::uint64_t dynamic_ids_ = 0;
  bool shutting_down_ = false;
  bool watchdog_armed_ = false;
  std::uint64_t next_restart_ = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<boost::asio::steady_timer>> restart_timers_;
};

} // namespace proctor::detail
