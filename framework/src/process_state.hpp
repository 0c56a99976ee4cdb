#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

#include "proctor/process.hpp"
#include "sys.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

/// Where a process object stands; every transition happens under process_state::mu.
enum class process_phase {
  created,  ///< Constructed, not started.
  starting, ///< start() is launching it.
  running,  ///< Started, not yet reaped.
  ended,    ///< Reaped: exitcode is known.
  closed,   ///< close() released it.
};

/// What start() got back from a launcher.
struct launched {
  pid_t pid = 0;
  unique_fd pidfd;   ///< Readable once the child has ended; signals go through it.
  unique_fd status;  ///< forkserver only: the zygote writes the child's wait status here.
};

/// The shared state behind every copy of a `process` handle.
struct process_state {
  std::mutex mu;
  process_phase phase = process_phase::created;
  std::string name;
  std::string ident;                   ///< "3" or "1:3": position in the tree of proctor processes.
  bool daemon = false;
  std::optional<start_method> method;  ///< Resolved at start().
  process_target target;
  pid_t parent_pid = 0;                ///< Who started it: only that process may reap it.
  launched child;
  std::optional<exit_status> status;
  bool zygote_lost = false;            ///< The zygote died before reporting this child's end.
};

/// What the framework reads of a `process` beyond its public API.
class process_access {
 public:
  /// A duplicate (close-on-exec) of the pidfd of the started process `p`, which becomes readable
  /// when that very process has ended, and at no other time (a forkserver child's sentinel, the
  /// zygote's status socket, also reads end of file if the zygote or its reaper dies); invalid
  /// if `p` was not started here or has been closed. It shares the open file with `p`'s own, and
  /// so its flags: an event loop that waits on it may make both non-blocking, which no user of a
  /// process's pidfd minds (each waitid() on it says WNOHANG).
  static unique_fd dup_pidfd(const process& p) noexcept;

  /// The pidfd itself, or -1: valid as long as `p` is neither closed nor destroyed.
  static int pidfd(const process& p) noexcept;
};

} // namespace proctor::detail
