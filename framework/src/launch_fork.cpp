#include <unistd.h>

#include <cerrno>
#include <string>

#include "launchers.hpp"
#include "runtime.hpp"

namespace proctor::detail {

launched launch_fork(const process_state& state, const launch_request& req) {
  if (int n = thread_count(); n != 1)
    throw process_error(process_errc::multithreaded,
                        "process '" + req.name + "': fork refused, this process runs "
                          + std::to_string(n)
                          + " threads and a forked child would inherit their locks held; use "
                            "the forkserver or spawn start method");
  flush_std_streams();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    throw_system_error("fork", errno);
  if (pid == 0) {
    reset_signals();
    ::setpgid(0, 0);
    die_with_parent(parent);
    runtime::get().become_child(req);
    run_child_target(state.target.run);
  }
  ::setpgid(pid, pid); // also here, so that the group exists before start() returns
  launched out;
  out.pid = pid;
  out.pidfd = open_pidfd(pid);
  if (!out.pidfd)
    throw_system_error("pidfd_open", errno); // cannot happen for our own unreaped child
  return out;
}

} // namespace proctor::detail
