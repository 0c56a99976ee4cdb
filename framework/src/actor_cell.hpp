#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace proctor::detail {

/// The control block of one actor's mailbox, in a segment of its own beside the ring that holds
/// the messages; mapped by the actor, its spawner and every process that sends to it. Only
/// fixed-size data and lock-free atomics. Everything a reader takes from it (names, lengths) is
/// checked before use: a buggy process may have scribbled over it.
struct actor_cell {
  std::atomic<std::uint32_t> magic;   ///< cell_magic once initialized (shared_object::publish).
  std::uint32_t version;
  std::uint64_t id;                   ///< The actor's id (also in every ref).
  char ring_name[80];                 ///< The message ring's segment, NUL-terminated.
  std::uint64_t ring_size;
  char name[64];                      ///< The actor's name, NUL-terminated (may be empty).
  std::uint32_t overflow;             ///< mailbox_overflow
  std::uint32_t block_timeout_ms;

  std::atomic<std::int32_t> pid;      ///< Written by the actor before it reports ready.
  std::atomic<std::uint64_t> start_time;
  std::atomic<std::uint32_t> state;   ///< Futex word: cell_state.
  std::atomic<std::uint32_t> readies; ///< Bumped each time an incarnation reports ready.
  std::atomic<std::uint32_t> sleeping;       ///< Futex word: awake, or how to wake the actor.
  std::atomic<std::uint32_t> kill_requested; ///< Someone sent `kill`: its SIGKILL means killed.
  std::atomic<std::uint32_t> fatal_signal;   ///< Recorded by the actor's fatal-signal handler.

  // The exit reason, written by the actor before state becomes exited.
  std::uint32_t exit_kind;
  std::int32_t exit_code;
  char exit_detail[200];

  std::uint32_t scoped;                      ///< 1: a scoped_actor's mailbox (its pid is the host).

  // Supervised actors (the supervisor owns the mailbox and restarts the actor on it).
  std::uint32_t supervised;                  ///< 1: an ending actor leaves the mailbox open.
  std::atomic<std::uint32_t> incarnation;    ///< Bumped by the supervisor at every restart.
  std::atomic<std::uint64_t> in_flight_type; ///< The message being handled (supervised only).
  std::atomic<std::uint64_t> in_flight_pos;  ///< Its ring position + 1; 0: none.
  /// A record handled but still in the ring (its position + 1; 0: none): the mailbox's lock was
  /// busy past its grace when it was to be removed. The next look removes it, or the next
  /// incarnation does, without handling it again; the supervisor counts no crash against it.
  std::atomic<std::uint64_t> handled_pos;
  std::uint32_t prev_exit_kind;              ///< The previous incarnation's exit reason, kept
  std::int32_t prev_exit_code;               ///< for watchers that look after the restart.
  char prev_exit_detail[200];
  std::int32_t stderr_fd;                    ///< >= 0: the actor's stderr goes to this fd...
  std::int32_t stderr_pid;                   ///< ...of this process (/proc/PID/fd/FD).
  std::uint32_t watchdog_ms;                 ///< > 0: the actor stamps handler_since.
  std::atomic<std::uint64_t> handler_since;  ///< CLOCK_MONOTONIC ns a handler started; 0: idle.
  std::uint64_t limit_memory;                ///< rlimits the actor sets on itself (0: none).
  std::uint64_t limit_cpu;
  std::uint64_t limit_files;
  /// 1 once the actor's process has done all it will do (its children and zygote stopped, its
  /// streams flushed): the last store before _exit. Reset by the supervisor at every start.
  std::atomic<std::uint32_t> finished;

  // A warm standby (child_spec::standby): a process of the child's, set up and waiting, that
  // takes over the moment the running incarnation dies a death it can see is a restart.
  /// Robust, process-shared; locked by each incarnation of a supervised actor before it reports
  /// ready and held until its process ends: then the kernel hands it, marked owner-died, to the
  /// standby waiting for it, before the dead process's memory is even torn down.
  pthread_mutex_t life;
  std::atomic<std::uint32_t> standby;       ///< standby_state; set by the supervisor, taken once.
  std::atomic<std::uint32_t> standby_call;  ///< 1: the process starting now is to stand by.
  std::atomic<std::uint32_t> standby_ready; ///< Futex word: bumped by a standby once it waits.

  std::atomic<std::uint64_t> dead_letters;   ///< Messages no handler took.
  std::atomic<std::uint64_t> malformed;      ///< Records that did not decode.
  std::atomic<std::uint64_t> dropped;        ///< Sends dropped by mailbox_overflow::drop.
};

enum cell_state : std::uint32_t {
  cell_starting = 0, ///< Created; the actor's init has not finished.
  cell_running = 1,  ///< Ready: init finished; the actor takes messages.
  cell_exited = 2,   ///< Ended for good; exit_* hold the reason; the mailbox is closed.
  cell_down = 3,     ///< Supervised and ended; exit_* hold the reason; messages wait for the
                     ///< next incarnation.
};

/// Values of actor_cell::standby.
enum standby_state : std::uint32_t {
  standby_off = 0,     ///< A standby may not take over: the supervisor restarts (or not) itself.
  standby_allowed = 1, ///< A death without a word (no exit recorded, no fatal signal caught)
                       ///< between two messages is restarted by the standby, at once.
  standby_taken = 2,   ///< The standby took over: the supervisor counts the restart.
  standby_declined = 3, ///< The standby woke and did not take over: it ends.
};

/// Values of actor_cell::sleeping.
enum sleep_mode : std::uint32_t {
  awake = 0,
  sleeping_on_futex = 1, ///< Wake with FUTEX_WAKE on the word.
  sleeping_on_bell = 2,  ///< Wake with a datagram to the doorbell (it waits in its event loop).
};

inline constexpr std::uint32_t cell_magic = 0x4c4c4543; // "CELL"
inline constexpr std::uint32_t cell_version = 4;
inline constexpr std::uint64_t mailbox_type_tag = 0x584f424c49414d50; // "PMAILBOX"

static_assert(std::is_standard_layout_v<actor_cell>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Copies a NUL-terminated string out of a fixed field, never past its end.
template <std::size_t N>
std::string field_string(const char (&field)[N]) {
  std::size_t n = 0;
  while (n < N && field[n] != '\0')
    ++n;
  return std::string(field, n);
}

template <std::size_t N>
void set_field(char (&field)[N], std::string_view s) {
  std::size_t n = s.size() < N - 1 ? s.size() : N - 1;
  for (std::size_t i = 0; i < n; ++i)
    field[i] = s[i];
  field[n] = '\0';
}

} // namespace proctor::detail
