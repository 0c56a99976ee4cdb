// A program that starts as root, calls proctor::init() (its forkserver starts as root), then drops
// to nobody, as a service does once it has bound its ports: the children it starts from then on,
// under forkserver and spawn, must run as nobody too, and the child it started before the drop
// must run on and be joined as ever; a pool made after the drop runs its tasks as nobody, and a
// fork pool made before it starts no more workers. Afterwards the old forkserver has ended and is
// reaped. And a run of the program killed after it dropped root leaves nothing running, nor does
// one that exits with a root daemon child it may no longer signal (nor does it hang). The
// checks run in a new run of the program; the first stays root, to sweep what the other left in
// /dev/shm from before its drop.
//   proctor_privilege_probe
// Prints "children run as nobody" and exits 0, names what went wrong and exits 1, or exits 77
// (skipped) when not run as root.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

namespace {

constexpr uid_t nobody = 65534;
constexpr gid_t nogroup = 65534;

/// 0 if this process runs as nobody with no supplementary group, 1 otherwise.
void report_identity() {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  ::getresuid(&r, &e, &s);
  ::getresgid(&gr, &ge, &gs);
  bool as_nobody = r == nobody && e == nobody && s == nobody && gr == nogroup && ge == nogroup
                   && gs == nogroup && ::getgroups(0, nullptr) == 0;
  proctor::exit(as_nobody ? 0 : 1);
}

/// Started before the drop: ends with what it is given, once it is given it.
void wait_then_exit(proctor::queue<int> q) {
  auto code = q.get(std::chrono::seconds(30));
  proctor::exit(code ? *code : 99);
}

/// A pool task: the user id its worker runs as.
std::int32_t worker_uid(std::int32_t) {
  return static_cast<std::int32_t>(::getuid());
}

/// Sleeps longer than any check here waits.
void nap() {
  std::this_thread::sleep_for(std::chrono::seconds(30));
}

/// The run that dies: drops root between two forkserver children, prints its pid, its zygotes'
/// and its children's, and kills itself.
int drop_then_die() {
  using proctor::start_method;
  auto before = proctor::get_context(start_method::forkserver).make_process(proctor::entry<nap>);
  before.start();
  pid_t root_zygote = proctor::forkserver_pid();
  if (::setgroups(0, nullptr) != 0 || ::setgid(nogroup) != 0 || ::setuid(nobody) != 0)
    return 1;
  auto after = proctor::get_context(start_method::forkserver).make_process(proctor::entry<nap>);
  after.start();
  std::printf("%d %d %d %d %d\n", static_cast<int>(::getpid()), static_cast<int>(root_zygote),
              static_cast<int>(proctor::forkserver_pid()), static_cast<int>(*before.pid()),
              static_cast<int>(*after.pid()));
  std::fflush(stdout);
  ::kill(::getpid(), SIGKILL);
  return 1;
}

/// The run that exits: a daemon child started as root, then the drop, a child started after it,
/// and a normal exit, which must neither hang (nobody may signal the root daemon) nor leave it.
int drop_then_exit() {
  using proctor::start_method;
  proctor::process daemon{proctor::process::options{.name = "napper", .daemon = true,
                                                    .method = start_method::forkserver},
                          proctor::entry<nap>};
  daemon.start();
  if (::setgroups(0, nullptr) != 0 || ::setgid(nogroup) != 0 || ::setuid(nobody) != 0)
    return 1;
  auto after = proctor::get_context(start_method::forkserver)
                 .make_process(proctor::entry<report_identity>);
  after.start();
  after.join();
  std::printf("%d\n", static_cast<int>(*daemon.pid()));
  std::fflush(stdout);
  return 0;
}

/// True once `pid` has ended (gone, or a zombie that init has yet to reap).
bool ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line))
    return true;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

/// Runs this program again with `flag` (drop_then_die() or drop_then_exit()); what it left
/// running a second after it ended, or that it did not end within 30 s.
std::string left_by_a_run(const char* flag, std::size_t printed) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return "cannot make a pipe";
  pid_t run = ::fork();
  if (run == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execl("/proc/self/exe", "proctor_privilege_probe", flag, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char chunk[256];
  for (ssize_t n; (n = ::read(out[0], chunk, sizeof chunk)) > 0;)
    text.append(chunk, static_cast<std::size_t>(n));
  ::close(out[0]);
  bool run_ended = false;
  for (int i = 0; i < 3000 && !run_ended; ++i) { // 30 s
    run_ended = ::waitpid(run, nullptr, WNOHANG) == run;
    if (!run_ended)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!run_ended) {
    ::kill(run, SIGKILL);
    ::waitpid(run, nullptr, 0);
    return std::string{"the run "} + flag + " did not end within 30 s";
  }
  std::istringstream fields(text);
  std::vector<pid_t> pids;
  for (int pid; fields >> pid;)
    pids.push_back(pid);
  if (pids.size() != printed)
    return std::string{"the run "} + flag + " printed '" + text + "'";
  if (printed > 1)
    pids.erase(pids.begin()); // the run itself: reaped above
  for (int i = 0; i < 100; ++i) { // a second
    if (std::all_of(pids.begin(), pids.end(), ended))
      return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string left;
  for (auto pid : pids)
    if (!ended(pid)) {
      left += " " + std::to_string(pid);
      ::kill(pid, SIGKILL); // leave nothing behind
    }
  return "still running a second after the program was killed:" + left;
}

/// Zombie children of this process, from /proc.
int zombie_children() {
  int n = 0;
  std::string me = std::to_string(::getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line))
      continue;
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 > line.size())
      continue;
    char state = line[close + 2];
    auto ppid = line.substr(close + 4, line.find(' ', close + 4) - (close + 4));
    if (state == 'Z' && ppid == me)
      ++n;
  }
  return n;
}

/// The checks, in a run that drops root; returns its exit code.
int drop_and_check() {
  using proctor::start_method;
  std::vector<std::string> wrong;
  // The kernel does not send a parent-death signal that the dying parent could not send: once
  // the program dropped root, its root zygote (and the children that one started) must see its
  // end by themselves.
  if (auto left = left_by_a_run("--drop-then-die", 5); !left.empty())
    wrong.push_back(left);
  // Nor may a normal exit hang on a root daemon child that nobody may signal any more.
  if (auto left = left_by_a_run("--drop-then-exit", 1); !left.empty())
    wrong.push_back(left);

  proctor::queue<int> q{4};
  auto early = proctor::get_context(start_method::forkserver)
                 .make_process(proctor::entry<wait_then_exit>, q);
  early.start();
  pid_t old_forkserver = proctor::forkserver_pid();
  // A fork pool's workers are copies of the process as it was when the pool was made: its one
  // worker runs as root, and after the drop no replacement may start as root.
  proctor::pool_options fork_pool_options;
  fork_pool_options.method = start_method::fork;
  fork_pool_options.maxtasksperchild = 1;
  proctor::pool fork_pool{1, fork_pool_options};

  if (::setgroups(0, nullptr) != 0 || ::setgid(nogroup) != 0 || ::setuid(nobody) != 0) {
    std::perror("privilege_probe: cannot drop to nobody");
    return 1;
  }
  for (auto m : {start_method::forkserver, start_method::spawn}) { // fork: the pool's thread
    auto p = proctor::get_context(m).make_process(proctor::entry<report_identity>);
    p.start();
    p.join();
    if (p.exitcode() != 0)
      wrong.push_back(std::string{proctor::to_string(m)} + " child did not run as nobody (exit "
                      + std::to_string(p.exitcode().value_or(-1)) + ")");
  }
  if (proctor::forkserver_pid() == old_forkserver)
    wrong.push_back("the forkserver started as root still serves");
  {
    proctor::pool_options o;
    o.maxtasksperchild = 1;
    proctor::pool later{1, o}; // made after the drop: its workers run as nobody
    auto uids = later.map(proctor::task<worker_uid>, std::vector<std::int32_t>{1, 2});
    if (uids != std::vector<std::int32_t>{nobody, nobody})
      wrong.push_back("a pool made after the drop ran a task as another user");
  }
  auto before = fork_pool.try_map(proctor::task<worker_uid>, std::vector<std::int32_t>{1, 2},
                                  proctor::map_options{.chunksize = 1});
  bool refused = before.size() == 2 && before[0] && *before[0] == 0 && !before[1]
                 && before[1].error().message().find("fork pool was made")
                      != std::string::npos;
  if (!refused)
    wrong.push_back("the fork pool made as root did not refuse to start a worker after the drop");
  fork_pool.terminate();

  q.put(7);
  early.join(std::chrono::seconds(30));
  if (early.exitcode() != 7)
    wrong.push_back("the child started before the drop ended with "
                    + std::to_string(early.exitcode().value_or(-1)) + ", not 7");

  // The old forkserver ends after its last child; the next start reaps it.
  bool old_gone = false;
  for (int i = 0; i < 300 && !old_gone; ++i) {
    auto p = proctor::get_context(start_method::forkserver)
               .make_process(proctor::entry<report_identity>);
    p.start();
    p.join();
    old_gone = ::kill(old_forkserver, 0) != 0 && errno == ESRCH;
    if (!old_gone)
      ::usleep(10'000);
  }
  if (!old_gone)
    wrong.push_back("the forkserver started as root did not end after its last child");
  if (int z = zombie_children(); z != 0)
    wrong.push_back(std::to_string(z) + " zombie children");
  if (!proctor::active_children().empty())
    wrong.push_back("children were left running");

  if (wrong.empty())
    std::puts("children run as nobody");
  for (const auto& w : wrong)
    std::puts(w.c_str());
  return wrong.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  if (argc == 2 && std::strcmp(argv[1], "--drop-then-die") == 0)
    return drop_then_die();
  if (argc == 2 && std::strcmp(argv[1], "--drop-then-exit") == 0)
    return drop_then_exit();
  if (argc == 2 && std::strcmp(argv[1], "--drop-and-check") == 0)
    return drop_and_check();
  if (::geteuid() != 0) {
    std::puts("not run as root: there is no privilege to drop");
    return 77;
  }
  // After the drop, the new zygote is a new run of this program, as nobody.
  struct stat program{};
  if (::stat("/proc/self/exe", &program) != 0 || (program.st_mode & S_IXOTH) == 0) {
    std::puts("this program may not be run by others (its mode): nobody could start a zygote");
    return 77;
  }
  // The checks run in a new run of this program, and this one stays root: what that run made
  // before its drop, it may not remove once it is nobody (its segments in /dev/shm, its
  // killed run's), and this one sweeps them when it has ended, as the next start would.
  std::fflush(stdout);
  pid_t run = ::fork();
  if (run == 0) {
    ::execl("/proc/self/exe", "proctor_privilege_probe", "--drop-and-check",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (run < 0 || ::waitpid(run, &status, 0) != run) {
    std::perror("privilege_probe: cannot run the checks");
    return 1;
  }
  proctor::sweep_stale_segments();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
