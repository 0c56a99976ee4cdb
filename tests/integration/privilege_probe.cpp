// A program that starts as root, calls proctor::init() (its forkserver starts as root), then drops
// to nobody, as a service does once it has bound its ports: the children it starts from then on,
// under forkserver and spawn, must run as nobody too, and the child it started before the drop
// must run on and be joined as ever. Afterwards the old forkserver has ended and is reaped.
//   proctor_privilege_probe
// Prints "children run as nobody" and exits 0, names what went wrong and exits 1, or exits 77
// (skipped) when not run as root.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
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

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  if (::geteuid() != 0) {
    std::puts("not run as root: there is no privilege to drop");
    return 77;
  }
  using proctor::start_method;
  std::vector<std::string> wrong;
  proctor::queue<int> q{4};
  auto early = proctor::get_context(start_method::forkserver)
                 .make_process(proctor::entry<wait_then_exit>, q);
  early.start();
  pid_t old_forkserver = proctor::forkserver_pid();

  if (::setgroups(0, nullptr) != 0 || ::setgid(nogroup) != 0 || ::setuid(nobody) != 0) {
    std::perror("privilege_probe: cannot drop to nobody");
    return 1;
  }
  for (auto m : {start_method::forkserver, start_method::spawn, start_method::fork}) {
    auto p = proctor::get_context(m).make_process(proctor::entry<report_identity>);
    p.start();
    p.join();
    if (p.exitcode() != 0)
      wrong.push_back(std::string{proctor::to_string(m)} + " child did not run as nobody (exit "
                      + std::to_string(p.exitcode().value_or(-1)) + ")");
  }
  if (proctor::forkserver_pid() == old_forkserver)
    wrong.push_back("the forkserver started as root still serves");

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
