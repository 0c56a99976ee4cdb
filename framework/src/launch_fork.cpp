#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "launchers.hpp"
#include "proctor/detail/pipe_ends.hpp"
#include "runtime.hpp"

namespace proctor::detail {

launched launch_fork(const process_state& state, const launch_request& req) {
  process_facts facts = read_process_facts();
  if (facts.threads != 1)
    require_single_thread("process '" + req.name
                          + "': fork refused (use the forkserver or spawn start method)");
  flush_std_streams();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    throw_system_error("fork", errno);
  if (pid == 0) {
    reset_signals(facts);
    ::syscall(SYS_setpgid, 0, 0); // as the helpers below: see unblock_all_signals()
    die_with_parent(parent);
    stdin_from_devnull();
    try {
      runtime::get().become_child(req);
      // Hold the pipe ends the target carries (all inherited ones, for a plain callable): the
      // parent's start() waits for this.
      pipe_ends::join_all(state.target.shares_every_end ? pipe_ends::held_here()
                                                         : state.target.ends);
    } catch (...) {
      ::_exit(1); // never return into the parent's code in the child
    }
    run_child_target(state.target.run);
  }
  ::setpgid(pid, pid); // also here, so that the group exists before start() returns
  launched out;
  out.pid = pid;
  out.pidfd = hold_child(pid);
  return out;
}

} // namespace proctor::detail
