#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mailbox.hpp"
#include "proctor/behavior.hpp"
#include "proctor/detail/actor_api.hpp"
#include "proctor/exit_reason.hpp"

namespace proctor::detail {

/// How many SIGTERMs this actor process has received (an actor process only).
[[nodiscard]] int sigterms_received() noexcept;

/// The machinery of one mailbox reader — an actor process, or a scoped_actor in any process:
/// the event loop (Boost.Asio), the doorbell that wakes it, the dispatch of records to the
/// behavior, pending requests, timers, and the death watches behind monitors and links.
///
/// Death watches: to learn that an actor ended, a core opens a pidfd on the actor's process
/// (checked against the start time its cell records, so a reused pid is never mistaken for it)
/// and waits for it on the loop. When it fires, the reason is read from the cell; the DOWN, EXIT
/// or failed request is put into this core's own mailbox, so that every message the dead actor
/// sent before it ended is taken first.
/// @note Single-threaded: only the thread that runs the loop may call into it.
class actor_core {
 public:
  using clock = std::chrono::steady_clock;
  using deadline = std::optional<clock::time_point>;

  /// Reads the mailbox named by `self` (mapped through own_link(); `own_cell` and `own_ring`, if
  /// given, are its cell and ring mapped already). `is_actor`: an actor process (SIGTERM ends it
  /// with shutdown; fatal signals are recorded in its cell).
  actor_core(actor_ref self, bool is_actor, shared_object own_cell = {}, ring own_ring = {});
  ~actor_core();
  actor_core(const actor_core&) = delete;
  actor_core& operator=(const actor_core&) = delete;

  /// Runs the loop until the actor quits; returns why. Exceptions from handlers end it.
  exit_reason run();

  /// Sends an exit signal with `why` to every linked actor (at the end of an actor).
  void notify_links(const exit_reason& why);

  // -- what the public API calls (see actor_api.hpp) -------------------------------------------
  std::optional<actor_error> send(const actor_ref& to, std::uint64_t type_id, std::uint32_t flags,
                                  std::uint64_t request_id, std::string_view payload,
                                  bool never_block = false);
  void request(const actor_ref& to, duration timeout, std::uint64_t type_id,
               std::string_view payload, reply_fn on_reply, error_fn on_error);
  std::optional<actor_error> request_wait(const actor_ref& to, duration timeout,
                                          std::uint64_t type_id, std::string_view payload,
                                          std::uint64_t& reply_type, std::vector<char>& reply);
  bool receive(duration timeout, const behavior& bhvr);
  std::uint64_t monitor(const actor_ref& target);
  void demonitor(std::uint64_t monitor_id);
  void link(const actor_ref& target);
  void unlink(const actor_ref& target);
  void send_exit(const actor_ref& target, const exit_reason& why);
  timer_id run_later(duration delay, std::function<void()> fn, bool repeat);
  void cancel_timer(timer_id id);

  void become(behavior b) { behavior_ = std::move(b); }
  void quit(exit_reason why) {
    if (!quit_)
      quit_ = std::move(why);
  }
  void trap_exit(bool on) noexcept { trap_exit_ = on; }
  [[nodiscard]] const actor_ref& self() const noexcept { return self_; }
  [[nodiscard]] const actor_ref& sender();
  [[nodiscard]] invocation* current() noexcept { return current_; }
  [[nodiscard]] boost::asio::io_context& io() noexcept { return io_; }
  /// The loop, for the actor's own I/O: from now on it always sleeps in the loop.
  [[nodiscard]] boost::asio::io_context& user_io() noexcept {
    io_used_ = true;
    return io_;
  }
  [[nodiscard]] mailbox_link& mailbox() noexcept { return *link_; }
  [[nodiscard]] const std::optional<exit_reason>& quitting() const noexcept { return quit_; }

 private:
  struct watch {
    actor_ref target;
    link_use target_link; ///< Keeps the target's cell mapped for the reason in its DOWN.
    std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd;
    std::vector<std::uint64_t> monitors;
    bool linked = false;
    std::uint32_t incarnation = 0; ///< The target's, when the watch began.
    timer_id poll = 0; ///< A scoped_actor's end, which no pidfd tells: looked for now and then.
  };
  struct pending {
    reply_fn on_reply;
    error_fn on_error;
    std::uint64_t target = 0;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  struct timer {
    std::unique_ptr<boost::asio::steady_timer> t;
    std::function<void()> fn;
    duration period{};
    bool repeat = false;
  };

  // mailbox
  bool pull_one();                              ///< Takes and routes one record; false if none.
  bool finish_pop(std::uint64_t position);      ///< Removes a handled record; false if the lock
                                                ///< was busy (kept in unpopped_).
  void route(const char* data, std::size_t size);
  void dispatch(const behavior& bhvr, const envelope& env, const char* sender, std::size_t sender_len,
                const std::byte* payload, std::size_t size);
  void handle_response(const envelope& env, const std::byte* payload, std::size_t size);
  void handle_system(const envelope& env, const std::byte* payload, std::size_t size);
  void deliver(std::uint64_t type_id, const actor_ref& from, std::string_view payload);
  void dead_letter(std::uint64_t type_id);
  void report_malformed(const std::string& why);
  /// Waits for a message: spins, then sleeps. True if it looked at timers and I/O on the way
  /// (before a sleep), false if a message came during the spin.
  bool idle_wait(deadline until);
  void arm_bell();
  void poll_io();
  void catch_sigterm();
  void wake_loop_on_sigterm();
  /// Makes what a sleep in the loop needs: the doorbell, and the SIGTERM eventfd of an actor.
  void wait_in_loop();
  void arm_timer(timer_id id, timer& entry);

  // watches
  /// The watch on `target`, begun if need be. nullptr with `dead` set: the target is gone, for
  /// that reason. nullptr without: this process cannot watch it (out of file descriptors,
  /// mappings or memory; `trouble` says why), which says nothing about the target.
  watch* watch_of(const actor_ref& target, std::optional<exit_reason>& dead,
                  std::string* trouble = nullptr);
  void on_death(std::uint64_t target_id);
  void drop_watch_if_idle(std::uint64_t target_id);
  void self_system(std::uint64_t type_id, const actor_ref& from, std::string_view payload);
  void fail_request(std::uint64_t request_id, const actor_error& err);

  boost::asio::io_context io_;
  actor_ref self_;
  mailbox_link* link_;
  bool is_actor_;
  bool supervised_ = false;
  /// A supervised actor's handled record that is still in its mailbox: a process stopped while
  /// it held the mailbox's lock kept pull_one() from removing it. Removed before the next peek.
  std::optional<std::uint64_t> unpopped_;
  /// The last pull_one() found the mailbox's lock held past its grace: run() looks at timers and
  /// signals before it tries again, rather than after a long run of idle looks.
  bool lock_stalled_ = false;
  bool io_used_ = false;
  std::chrono::nanoseconds spin_budget_{std::chrono::microseconds{20}};
  std::uint64_t sent_ = 0; ///< Messages sent since the last idle_wait(): 0 spins as a sink.
  int bell_fd_ = -1;
  std::unique_ptr<boost::asio::posix::stream_descriptor> bell_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> term_; ///< Readable after SIGTERM.

  behavior behavior_;
  std::optional<exit_reason> quit_;
  bool trap_exit_ = false;

  // the message being handled
  invocation* current_ = nullptr;
  const char* sender_name_ = nullptr;
  std::size_t sender_len_ = 0;
  std::uint64_t sender_id_ = 0;
  actor_ref sender_;
  bool sender_ready_ = false;
  std::unordered_map<std::uint64_t, actor_ref> known_;

  std::vector<char> inbox_;             ///< Records taken in one batch: [u32 size][bytes]...
  std::size_t inbox_pos_ = 0;
  int route_depth_ = 0;
  std::deque<std::vector<char>> deferred_; ///< Own system messages that found the mailbox full.
  std::deque<std::vector<char>> stash_;    ///< scoped_actor: messages no receive took yet.
  const behavior* receiving_ = nullptr;    ///< scoped_actor: the behavior of a receive().
  bool received_ = false;

  std::uint64_t next_request_ = 1;
  std::unordered_map<std::uint64_t, pending> pending_;
  std::unordered_map<std::uint64_t, watch> watches_;
  std::unordered_map<std::uint64_t, std::uint64_t> monitor_target_;
  std::uint64_t next_monitor_ = 1;
  timer_id next_timer_ = 1;
  std::unordered_map<timer_id, timer> timers_;
  std::unordered_set<std::uint64_t> ended_links_; ///< Linked actors whose EXIT is on its way.
};

} // namespace proctor::detail
