#include "proctor/init.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "forkserver.hpp"
#include "launch_request.hpp"
#include "launchers.hpp"
#include "proctor/shared_segment.hpp"
#include "proctor/start_method.hpp"
#include "registry_table.hpp"
#include "runtime.hpp"
#include "sys.hpp"

namespace proctor {

namespace {

/// Becomes the child described on `fd` and runs its target. Never returns.
[[noreturn]] void run_spawned_child(int fd, int argc, char** argv) {
  detail::launch_request req;
  try {
    req = detail::read_request(fd);
  } catch (const std::exception& e) {
    std::cerr << "proctor: spawned child (pid " << ::getpid() << "): " << e.what() << std::endl;
    ::_exit(1);
  }
  ::close(fd);
  detail::die_with_parent(req.launcher_pid);
  // exec named the process "exe", after /proc/self/exe: give it its program's name back.
  if (argc > 0 && argv[0] != nullptr) {
    const char* base = std::strrchr(argv[0], '/');
    ::prctl(PR_SET_NAME, base != nullptr ? base + 1 : argv[0]);
  }
  detail::runtime::get().mark_init(argc, argv); // so that it may spawn children of its own
  detail::runtime::get().become_child(req);
  detail::run_child_entry(req);
}

/// Serves as a fresh zygote (forkserver_client::origin::fresh): argv is
/// `program --proctor-zygote FD HOST-PID HOST-COMM`. Never returns.
[[noreturn]] void run_zygote(int argc, char** argv) {
  bool watch = argc == 6 && std::strcmp(argv[5], detail::zygote_watch_flag) == 0;
  if (argc != 5 && !watch) {
    std::cerr << "proctor: " << detail::zygote_flag << " is for proctor's own use\n";
    ::_exit(2);
  }
  detail::runtime::get().mark_init(argc, argv); // so that its children may spawn and start zygotes
  detail::run_fresh_zygote(std::atoi(argv[2]), static_cast<pid_t>(std::atol(argv[3])), argv[4],
                           watch);
}

} // namespace

void init(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], detail::spawn_flag) == 0)
    run_spawned_child(std::atoi(argv[2]), argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], detail::zygote_flag) == 0)
    run_zygote(argc, argv);
  sweep_stale_segments(); // left in /dev/shm by runs that died (SIGKILL) before unlinking
  auto& rt = detail::runtime::get();
  rt.mark_init(argc, argv);
  detail::ensure_std_fds();
  detail::ensure_node_registry(); // before any child exists, so that every one inherits it
  rt.start_zygote_if_possible(true); // forkserver children fork from it; spawned ones start from it
}

int forkserver_pid() {
  return detail::runtime::get().zygote_pid();
}

} // namespace proctor
