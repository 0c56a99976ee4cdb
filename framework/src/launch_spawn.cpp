#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "forkserver.hpp"
#include "launchers.hpp"
#include "runtime.hpp"

extern char** environ;

namespace proctor::detail {

namespace {

/// RAII for the posix_spawn attribute objects.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

} // namespace

void host_output::install() const noexcept {
  if (!out || !err)
    return;
  ::dup2(out.get(), STDOUT_FILENO);
  ::dup2(err.get(), STDERR_FILENO);
}

pid_t spawn_self(const char* flag, int fd, std::initializer_list<std::string_view> args,
                 const host_setting& host, const std::vector<std::string>* environment) {
  // Keep the child's end away from passed_fd so that dup2 really clears its close-on-exec flag.
  unique_fd passed{::fcntl(fd, F_DUPFD_CLOEXEC, passed_fd + 1)};
  if (!passed)
    throw_system_error("fcntl", errno);

  spawn_setup setup;
  // First: any of them may be numbered passed_fd, which the dup2 after them overwrites.
  if (host.cwd >= 0)
    posix_spawn_file_actions_addfchdir_np(&setup.actions, host.cwd);
  if (const auto* output = host.output; output != nullptr && output->out && output->err) {
    posix_spawn_file_actions_adddup2(&setup.actions, output->out.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, output->err.get(), STDERR_FILENO);
  }
  posix_spawn_file_actions_adddup2(&setup.actions, passed.get(), passed_fd);
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, passed_fd + 1);
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // exec resets caught signals to their default and keeps ignored ones: the same state the fork
  // and forkserver children get from reset_signals().
  // SIGCHLD alone goes back to default even if ignored here: ignored, it would make the kernel
  // reap the child's own children behind its back.
  sigset_t none, chld;
  sigemptyset(&none);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &chld);

  auto& rt = runtime::get();
  std::vector<std::string> words;
  words.push_back(rt.argv0().empty() ? "proctor-child" : rt.argv0());
  words.emplace_back(flag);
  words.push_back(std::to_string(passed_fd));
  for (auto arg : args)
    words.emplace_back(arg);
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (environment != nullptr) {
    for (const auto& entry : *environment)
      envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }
  // The new program inherits the limit at the spawn: lowered for that alone, so that what this
  // process opens meanwhile does not meet it.
  rlimit own_files{};
  bool lowered = host.files != nullptr && ::getrlimit(RLIMIT_NOFILE, &own_files) == 0
                 && ::setrlimit(RLIMIT_NOFILE, host.files) == 0;
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, "/proc/self/exe", &setup.actions, &setup.attr, argv.data(),
                          environment != nullptr ? envp.data() : environ);
  if (lowered)
    ::setrlimit(RLIMIT_NOFILE, &own_files);
  if (err != 0)
    throw_system_error("posix_spawn /proc/self/exe", err);
  return pid;
}

launched launch_spawn(const launch_request& request, const host_setting& host) {
  auto& rt = runtime::get();
  if (!rt.init_called())
    throw process_error(process_errc::no_init,
                        "process '" + request.name + "': the spawn start method needs "
                        "proctor::init(argc, argv) as the first statement of main(), or the "
                        "child would run main() again");
  // The parent-death signal fires when the *thread* that started the child ends: from the
  // single-threaded, long-lived zygote, a start from a short-lived thread is safe.
  if (!request.spawn && rt.has_zygote()) {
    // A new program started from here would run in our working directory and environment as
    // they are now, not as the zygote has them (since init()): both go with the request.
    launch_request via = request;
    via.spawn = true;
    via.has_environment = true;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
      via.environment.emplace_back(*entry);
    unique_fd cwd{::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)}; // none: the zygote's, then
    via.passes_cwd = static_cast<bool>(cwd);
    return launch_through_zygote([&](forkserver_client& z) { return z.launch(via, cwd.get()); });
  }
  launch_request req = request;
  req.launcher_pid = ::getpid();
  req.has_environment = false; // used here, and no business of the child's
  req.environment.clear();
  req.passes_cwd = false;
  std::string frame = encode_request(req);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw_system_error("socketpair", errno);
  unique_fd mine{fds[0]}, theirs{fds[1]};
  pid_t pid = spawn_self(spawn_flag, theirs.get(), {}, host,
                         request.has_environment ? &request.environment : nullptr);
  theirs.reset();

  launched out;
  out.pid = pid;
  out.pidfd = hold_child(pid);
  if (!out.pidfd)
    return out; // ended and reaped already
  // A child that died before reading leaves the write failing: it has ended, and join shows how.
  (void)write_all(mine.get(), frame);
  return out;
}

} // namespace proctor::detail
