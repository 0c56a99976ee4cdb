#pragma once

#include <sys/types.h>

#include <functional>
#include <mutex>

#include "launch_request.hpp"
#include "process_state.hpp"
#include "sys.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

/// The host's side of the forkserver: a single-threaded zygote forked early, which forks children
/// on request and reports their wait status.
///
/// Protocol. The host sends each request on one stream socket (`chan_`): a 4-byte length, the
/// encoded launch_request, and — with the first byte — one end of a fresh SOCK_SEQPACKET pair as
/// SCM_RIGHTS. On that private pair the zygote answers {started, pid} with the child's pidfd
/// attached (or {failed, errno}), and later {exited, wait status} once it has reaped the child.
/// @note Thread-safe: requests are serialized by mu_.
class forkserver_client {
 public:
  /// How the zygote comes to be, and so what its children are copies of.
  enum class origin {
    /// A fork of this process: children are copies of it as it is now (at init, or as a fork
    /// pool starts).
    fork,
    /// A new run of this program (posix_spawn of /proc/self/exe; needs proctor::init()):
    /// children are copies of the program as its init() found it. What a supervisor starts its
    /// children from: a fork of a process that descends from others through forks shares their
    /// anonymous memory, and each fork, and each exit, then pays the kernel for every relative
    /// (the zygote of a pool of a thousand children forked three times slower than a fresh one).
    fresh,
  };

  /// Starts the zygote. A fork of this process needs it to run one thread (checked here); a new
  /// run of the program started by one of several threads ends with the process, not with that
  /// thread (it watches the host's pidfd instead of taking a parent-death signal).
  static std::unique_ptr<forkserver_client> start(origin how = origin::fork);

  ~forkserver_client();

  /// Asks the zygote for a child; returns its pid, pidfd and the status socket. `cwd`: a
  /// directory to pass with a spawn request (`req.passes_cwd`).
  launched launch(const launch_request& req, int cwd = -1);

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Who this process acted as, and how it was confined, when the zygote started: it forks
  /// children as that.
  [[nodiscard]] const confinement& started_as() const noexcept { return started_as_; }

  /// False once the zygote has died (killed by the OOM killer, say).
  [[nodiscard]] bool alive() const;

  /// Takes no more requests: tells the zygote so and shuts the channel for writing, so that this
  /// process can never ask it for a child again. The zygote goes on reporting the ends of the
  /// children it started, and exits after the last, or once this object is destroyed (the
  /// channel's hang-up), taking them with it.
  void retire() noexcept;
  [[nodiscard]] bool retired() const;

  /// In a forked child: closes the inherited channel and pidfd without changing this object,
  /// which the child then forgets (leaves undestroyed): see runtime::become_child().
  void close_inherited() const noexcept;

 private:
  forkserver_client(pid_t pid, unique_fd pidfd, unique_fd chan) noexcept;

  mutable std::mutex mu_;
  bool retired_ = false;
  pid_t pid_;
  unique_fd pidfd_;
  unique_fd chan_;
  confinement started_as_ = current_confinement();
};

/// The zygote's life in a program that proctor::init() found started as one (origin::fresh):
/// serves `chan` for `host` until the host closes it. `host_comm`: the name its children take.
/// `watch_host`: ends when the host does, not with the host's thread that started it.
[[noreturn]] void run_fresh_zygote(int chan, pid_t host, const char* host_comm,
                                   bool watch_host = false);

/// The zygote that forkserver launches from the calling thread go to instead of the runtime's:
/// a fork pool sets its own, forked when the pool started, so that every worker it ever starts is
/// a copy of the process as it was then. Null: the runtime's.
forkserver_client*& zygote_override() noexcept;

/// Launches through this process's zygote (started or replaced as need be), once more if another
/// thread retired it meanwhile.
launched launch_through_zygote(const std::function<launched(forkserver_client&)>& launch);

/// A message from the zygote about one child.
struct zygote_reply {
  enum kind_t : int32_t { started, failed, exited } kind;
  int32_t pid;
  int32_t value;   ///< failed: errno; exited: wait status.
};

/// Reads the child's final status from a forkserver status socket if it is there (never blocks).
/// Empty while the child runs. Sets `zygote_lost` once the zygote is gone without a report; the
/// child's end is then read from its pidfd, with an unknown status.
std::optional<exit_status> try_read_zygote_status(int status_fd, int child_pidfd,
                                                  bool& zygote_lost);

} // namespace proctor::detail
