#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::process;
using proctor::start_method;

namespace {

/// Exits 0 if stdin is at end of file at once (a child never reads the terminal).
void read_stdin() {
  char c;
  proctor::exit(::read(STDIN_FILENO, &c, 1) == 0 ? 0 : 4);
}

/// Starts a daemon that ignores SIGTERM, writes its pid, and returns.
void leave_stubborn_daemon(std::string pid_path) {
  process daemon{process::options{.daemon = true}, entry<probe_ignore_sigterm_then_sleep_ms>,
                 600'000};
  daemon.start();
  std::ofstream(pid_path) << *daemon.pid();
}

} // namespace

TEST_CASE("a child started by a thread that has ended lives on", "[robustness]") {
  auto m = GENERATE(start_method::spawn, start_method::forkserver);
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto p = proctor::get_context(m).make_process(entry<probe_sleep_ms>, 300);
  std::thread{[&] { p.start(); }}.join();
  p.join();
  CHECK(p.exitcode() == 0); // not killed by a parent-death signal tied to the thread
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child's stdin is /dev/null", "[robustness]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto p = proctor::get_context(m).make_process(entry<read_stdin>);
  p.start();
  p.join();
  CHECK(p.exitcode() == 0);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a parent that ignores SIGCHLD can still start and join children", "[robustness]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  ::signal(SIGCHLD, SIG_IGN);
  auto first = proctor::get_context(m).make_process(entry<probe_exit>, 3);
  first.start();
  first.join();
  auto second = proctor::get_context(m).make_process(entry<probe_exit>, 3);
  second.start();
  second.join();
  ::signal(SIGCHLD, SIG_DFL);
  // The kernel reaps this process's own children itself: their status is lost (reported as 255);
  // children of the zygote keep theirs.
  if (m == start_method::fork) {
    CHECK((first.exitcode() == 3 || first.exitcode() == 255));
  } else {
    CHECK(first.exitcode() == 3);
    CHECK(second.exitcode() == 3);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("once the sentinel is readable, the exit code is known", "[robustness]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  for (int i = 0; i < 20; ++i) {
    auto p = proctor::get_context(m).make_process(entry<probe_exit>, 5);
    p.start();
    pollfd fd{p.sentinel(), POLLIN, 0};
    REQUIRE(::poll(&fd, 1, 30'000) == 1);
    REQUIRE(p.exitcode() == 5);
    CHECK_FALSE(p.is_alive());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a daemon that ignores SIGTERM does not hang its parent's exit", "[robustness]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  temp_file daemon_pid;
  auto parent = proctor::get_context(m).make_process(entry<leave_stubborn_daemon>,
                                                     daemon_pid.path());
  parent.start();
  REQUIRE(parent.join(120s)); // the grace period is seconds; the bound only keeps a bug finite
  CHECK(parent.exitcode() == 0);
  CHECK(is_dead(std::stoi(daemon_pid.read())));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a zygote that died is replaced at the next forkserver start", "[robustness]") {
  leftover_guard guard;
  pid_t old_zygote = proctor::forkserver_pid();
  REQUIRE(old_zygote > 0);
  ::kill(old_zygote, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!is_dead(old_zygote) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  auto p = proctor::get_context(start_method::forkserver).make_process(entry<probe_exit>, 6);
  p.start();
  p.join();
  CHECK(p.exitcode() == 6);
  CHECK(proctor::forkserver_pid() != old_zygote);
  REQUIRE_NO_LEFTOVERS(guard);
}

namespace {
void shrug(int) {}
} // namespace

TEST_CASE("a handler the parent installed does not follow the child", "[robustness]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  struct sigaction shrugging{}, previous{};
  shrugging.sa_handler = shrug;
  ::sigaction(SIGTERM, &shrugging, &previous);
  auto p = proctor::get_context(m).make_process(entry<probe_sleep_ms>, 60'000);
  p.start();
  ::sigaction(SIGTERM, &previous, nullptr);
  // The child may not have reset its dispositions yet when the signal comes: retry until it ends.
  while (!p.join(50ms))
    p.terminate();
  CHECK(p.exitcode() == -SIGTERM);
  REQUIRE_NO_LEFTOVERS(guard);
}

namespace {

/// The forkserver's live child named `comm` (proctor-spare, proctor-reaper), waiting up to
/// `patience`; 0 if none.
pid_t find_zygote_helper(const std::string& comm, std::chrono::milliseconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (;;) {
    pid_t zygote = proctor::forkserver_pid();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      auto name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      std::ifstream in(entry.path() / "stat");
      std::string line;
      if (!std::getline(in, line))
        continue;
      auto open = line.find('(');
      auto close = line.rfind(')');
      if (open == std::string::npos || close == std::string::npos)
        continue;
      char state = '?';
      pid_t ppid = 0;
      std::istringstream(line.substr(close + 2)) >> state >> ppid;
      if (ppid == zygote && line.substr(open + 1, close - open - 1) == comm && state != 'Z')
        return static_cast<pid_t>(std::stoi(name));
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return 0;
    std::this_thread::sleep_for(1ms);
  }
}

pid_t find_spare(std::chrono::milliseconds patience) {
  return find_zygote_helper("proctor-spare", patience);
}

/// Children that sleep `ms`, started so that the zygote holds as many status sockets as it keeps
/// itself (32): the ends of the children started next are reported through its reaper.
std::vector<proctor::process> fill_zygote(const proctor::context& ctx, int ms) {
  std::vector<proctor::process> sleepers;
  for (int i = 0; i < 32; ++i) {
    sleepers.push_back(ctx.make_process(entry<probe_sleep_ms>, ms));
    sleepers.back().start();
  }
  return sleepers;
}

/// SIGKILLs `pid` and waits (30 s at most) until it is gone.
void kill_and_wait(pid_t pid) {
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!is_dead(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
}

/// An actor that only answers pid_query.
proctor::behavior pid_answerer(proctor::actor&) {
  return {proctor::test::pid_handler()};
}

} // namespace

TEST_CASE("the forkserver forks a spare child ahead of the next start, and a start still works "
          "when the spare was killed",
          "[robustness]") {
  leftover_guard guard;
  auto ctx = proctor::get_context(start_method::forkserver);
  auto first = ctx.make_process(entry<probe_exit>, 3);
  first.start();
  first.join();
  CHECK(first.exitcode() == 3);
  pid_t spare = find_spare(30'000ms);
  REQUIRE(spare > 0);
  // The next start takes the spare: the child is that process, and a new spare follows.
  auto second = ctx.make_process(entry<probe_sleep_ms>, 200);
  second.start();
  CHECK(second.pid() == spare);
  second.join();
  CHECK(second.exitcode() == 0);
  // A spare killed while it waits: the zygote forks the child instead.
  spare = find_spare(30'000ms);
  REQUIRE(spare > 0);
  kill_and_wait(spare);
  auto third = ctx.make_process(entry<probe_exit>, 5);
  third.start();
  third.join();
  CHECK(third.exitcode() == 5);
  CHECK(third.pid() != spare);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a stopped reaper holds up no start: the ends it reports wait for it, in order",
          "[robustness]") {
  leftover_guard guard;
  auto ctx = proctor::get_context(start_method::forkserver);
  auto sleepers = fill_zygote(ctx, 3000);
  pid_t reaper = find_zygote_helper("proctor-reaper", 30'000ms);
  REQUIRE(reaper > 0);
  REQUIRE(::kill(reaper, SIGSTOP) == 0);
  // Far more children than the reaper's channel has room for notes about: each start goes on.
  std::vector<proctor::process> children;
  for (int i = 0; i < 400; ++i) {
    children.push_back(ctx.make_process(entry<probe_exit>, i % 7));
    children.back().start();
  }
  REQUIRE(::kill(reaper, SIGCONT) == 0);
  int exact = 0;
  for (int i = 0; i < 400; ++i) {
    REQUIRE(children[static_cast<std::size_t>(i)].join(60s));
    exact += children[static_cast<std::size_t>(i)].exitcode() == i % 7;
  }
  CHECK(exact == 400);
  for (auto& p : sleepers) {
    REQUIRE(p.join(60s));
    CHECK(p.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the forkserver's reaper reports its children's ends, and once it is killed, running "
          "children still end and a later start brings a new one",
          "[robustness]") {
  leftover_guard guard;
  auto ctx = proctor::get_context(start_method::forkserver);
  auto sleepers = fill_zygote(ctx, 2000);
  auto running = ctx.make_process(entry<probe_sleep_ms>, 300);
  running.start();
  auto first = ctx.make_process(entry<probe_exit>, 3);
  first.start();
  first.join();
  CHECK(first.exitcode() == 3); // reported through the reaper
  pid_t reaper = find_zygote_helper("proctor-reaper", 30'000ms);
  REQUIRE(reaper > 0);
  kill_and_wait(reaper);
  // The running child's report died with the reaper: its end is still seen, from its pidfd.
  REQUIRE(running.join(30s));
  CHECK_FALSE(running.is_alive());
  auto next = ctx.make_process(entry<probe_exit>, 5);
  next.start();
  next.join();
  CHECK(next.exitcode() == 5); // reported by the zygote
  // A start a second after the last reaper started brings a new one, which reports the ends of
  // children beyond those the zygote keeps.
  std::this_thread::sleep_for(1100ms);
  auto after = ctx.make_process(entry<probe_exit>, 6);
  after.start();
  after.join();
  CHECK(after.exitcode() == 6);
  pid_t new_reaper = find_zygote_helper("proctor-reaper", 30'000ms);
  CHECK(new_reaper > 0);
  CHECK(new_reaper != reaper);
  auto more_sleepers = fill_zygote(ctx, 2000);
  auto last = ctx.make_process(entry<probe_exit>, 7);
  last.start();
  last.join();
  CHECK(last.exitcode() == 7); // reported through the new reaper
  for (auto* group : {&sleepers, &more_sleepers})
    for (auto& p : *group)
      REQUIRE(p.join(60s));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor its spawner monitors is not reported down when the forkserver's reaper that "
          "holds its status socket dies",
          "[robustness]") {
  leftover_guard guard;
  {
    proctor::test::kill_children_on_failure cleanup;
    auto ctx = proctor::get_context(start_method::forkserver);
    auto sleepers = fill_zygote(ctx, 2000); // the end of the next child goes through the reaper
    proctor::scoped_actor self;
    auto actor = proctor::spawn<pid_answerer>(proctor::test::on(start_method::forkserver));
    auto monitor = self.monitor(actor);
    pid_t reaper = find_zygote_helper("proctor-reaper", 30'000ms);
    REQUIRE(reaper > 0);
    kill_and_wait(reaper);
    // The actor's status socket reads end of file now, while the actor runs on.
    CHECK_FALSE(proctor::test::wait_down(self, monitor, 300ms));
    CHECK(proctor::test::pid_of(self, actor) > 0);
    self.send_exit(actor, proctor::exit_reason::kill());
    auto down = proctor::test::wait_down(self, monitor);
    REQUIRE(down);
    CHECK(down->reason.kind == proctor::exit_kind::killed);
    for (auto& p : sleepers)
      REQUIRE(p.join(60s));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
