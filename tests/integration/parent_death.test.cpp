#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::process;
using proctor::start_method;

namespace {

/// Starts a daemon and a non-daemon child under each start method, all sleeping, writes their
/// pids to `path` followed by "ready", then sleeps until killed.
void start_family(std::string path) {
  std::vector<process> family;
  for (auto m : all_methods)
    for (bool daemon : {true, false})
      family.push_back(proctor::get_context(m).make_process(process::options{.daemon = daemon},
                                                             entry<probe_sleep_ms>, 600'000));
  std::ofstream out(path);
  for (auto& p : family) {
    p.start();
    out << *p.pid() << '\n';
  }
  out << "ready" << std::endl;
  probe_sleep_ms(600'000);
}

std::vector<pid_t> wait_for_family(const temp_file& file, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto text = file.read();
    if (text.find("ready") != std::string::npos) {
      std::vector<pid_t> pids;
      std::istringstream in(text);
      pid_t pid;
      while (in >> pid)
        pids.push_back(pid);
      return pids;
    }
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

/// Writes "done" to `path` after `ms` milliseconds.
void finish_late(int ms, std::string path) {
  probe_sleep_ms(ms);
  std::ofstream(path) << "done";
}

/// Starts a daemon that would sleep for ten minutes and a non-daemon that finishes after a
/// moment; writes the daemon's pid, then returns at once.
void leave_children(std::string daemon_pid_path, std::string late_path) {
  process daemon{process::options{.daemon = true}, entry<probe_sleep_ms>, 600'000};
  process worker{entry<finish_late>, 300, late_path};
  daemon.start();
  worker.start();
  std::ofstream(daemon_pid_path) << *daemon.pid();
}

} // namespace

TEST_CASE("no child outlives a parent killed with SIGKILL by more than one second",
          "[parent_death]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("the parent was started with " << proctor::to_string(m));
  leftover_guard guard;
  temp_file pids_file;
  auto parent = proctor::get_context(m).make_process(entry<start_family>, pids_file.path());
  parent.start();
  auto family = wait_for_family(pids_file, 60s);
  REQUIRE(family.size() == 6);
  for (pid_t pid : family)
    REQUIRE_FALSE(is_dead(pid));

  parent.kill();
  parent.join();
  auto deadline = std::chrono::steady_clock::now() + 1s;
  std::vector<pid_t> alive = family;
  while (!alive.empty() && std::chrono::steady_clock::now() < deadline) {
    std::erase_if(alive, [](pid_t pid) { return is_dead(pid); });
    std::this_thread::sleep_for(2ms);
  }
  INFO("still alive one second after the parent died:\n" << describe(alive));
  CHECK(alive.empty());
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("when a parent ends, its daemon children are terminated and the others joined",
          "[parent_death]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  temp_file daemon_pid, late;
  auto parent = proctor::get_context(m).make_process(entry<leave_children>, daemon_pid.path(),
                                                     late.path());
  parent.start();
  parent.join();
  CHECK(parent.exitcode() == 0);
  CHECK(late.read() == "done"); // the non-daemon child ran to its end before its parent exited
  pid_t daemon = std::stoi(daemon_pid.read());
  CHECK(is_dead(daemon));
  REQUIRE_NO_LEFTOVERS(guard);
}
