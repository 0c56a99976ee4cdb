#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::process;

namespace {

process make(proctor::start_method m, auto... args) {
  return proctor::get_context(m).make_process(args...);
}

} // namespace

TEST_CASE("a child's exit code follows multiprocessing's rules", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;

  auto returns = make(m, entry<probe_return>);
  auto exits = make(m, entry<probe_exit>, 7);
  auto std_exits = make(m, entry<probe_std_exit>, 9);
  auto aborts = make(m, entry<probe_raise>, SIGABRT);
  auto segfaults = make(m, entry<probe_raise>, SIGSEGV);
  for (auto* p : {&returns, &exits, &std_exits, &aborts, &segfaults})
    p->start();
  for (auto* p : {&returns, &exits, &std_exits, &aborts, &segfaults})
    p->join();

  CHECK(returns.exitcode() == 0);
  CHECK(exits.exitcode() == 7);
  CHECK(std_exits.exitcode() == 9);
  CHECK(aborts.exitcode() == -SIGABRT);
  CHECK(segfaults.exitcode() == -SIGSEGV);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an uncaught exception exits 1 and prints its message with the process name",
          "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  temp_file err;
  auto p = proctor::get_context(m).make_process(process::options{.name = "thrower"},
                                                entry<probe_throw>, err.path(),
                                                std::string{"the disk is on fire"});
  p.start();
  p.join();
  CHECK(p.exitcode() == 1);
  auto text = err.read();
  CHECK_THAT(text, Catch::Contains("process 'thrower'"));
  CHECK_THAT(text, Catch::Contains("the disk is on fire"));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("exitcode is empty before start and while the child runs", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto p = make(m, entry<probe_sleep_ms>, 60'000);
  CHECK_FALSE(p.exitcode());
  CHECK_FALSE(p.is_alive());
  CHECK_FALSE(p.pid());
  p.start();
  CHECK(p.is_alive());
  CHECK_FALSE(p.exitcode());
  CHECK(p.pid().value_or(0) > 0);
  p.kill();
  p.join();
  CHECK_FALSE(p.is_alive());
  CHECK(p.exitcode() == -SIGKILL);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("terminate sends SIGTERM and kill sends SIGKILL", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto polite = make(m, entry<probe_sleep_ms>, 60'000);
  auto stubborn = make(m, entry<probe_ignore_sigterm_then_sleep_ms>, 60'000);
  polite.start();
  stubborn.start();
  polite.terminate();
  polite.join();
  CHECK(polite.exitcode() == -SIGTERM);

  // A child that ignores SIGTERM survives terminate(); kill() cannot be ignored. The child
  // ignores SIGTERM only once it runs its target, so wait for that before testing it.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool ignoring = false;
  while (!ignoring && std::chrono::steady_clock::now() < deadline) {
    std::ifstream status("/proc/" + std::to_string(*stubborn.pid()) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("SigIgn:", 0) == 0)
        ignoring = (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
    if (!ignoring)
      std::this_thread::sleep_for(5ms);
  }
  REQUIRE(ignoring);
  stubborn.terminate();
  CHECK_FALSE(stubborn.join(200ms));
  CHECK(stubborn.is_alive());
  stubborn.kill();
  stubborn.join();
  CHECK(stubborn.exitcode() == -SIGKILL);

  // Signalling a child that has ended and been reaped does nothing.
  polite.terminate();
  polite.kill();
  CHECK(polite.exitcode() == -SIGTERM);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("join with a timeout returns false while the child runs and true once it ended",
          "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto p = make(m, entry<probe_sleep_ms>, 60'000);
  p.start();
  CHECK_FALSE(p.join(0ms));
  CHECK_FALSE(p.join(50ms));
  CHECK(p.is_alive());
  p.terminate();
  CHECK(p.join(30s));
  CHECK(p.join(0ms)); // joining again is harmless
  CHECK(p.exitcode() == -SIGTERM);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the sentinel becomes readable when the child ends", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto p = make(m, entry<probe_sleep_ms>, 60'000);
  p.start();
  pollfd fd{p.sentinel(), POLLIN, 0};
  CHECK(::poll(&fd, 1, 0) == 0);
  p.kill();
  CHECK(::poll(&fd, 1, 30'000) == 1);
  p.join();
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a hundred children are started and reaped", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  std::vector<process> children;
  for (int i = 0; i < 100; ++i)
    children.push_back(make(m, entry<probe_exit>, i % 50));
  for (auto& c : children)
    c.start();
  for (auto& c : children)
    c.join();
  for (int i = 0; i < 100; ++i)
    CHECK(children[i].exitcode() == i % 50);
  CHECK(proctor::active_children().empty());
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child whose handles were all dropped is reaped, not left a zombie", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto p = make(m, entry<probe_return>);
    p.start();
  }
  // active_children() reaps children that ended, as in multiprocessing.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!proctor::active_children().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("active_children lists the live children only", "[process]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  auto a = make(m, entry<probe_sleep_ms>, 60'000);
  auto b = make(m, entry<probe_sleep_ms>, 60'000);
  auto quick = make(m, entry<probe_return>);
  a.start();
  b.start();
  quick.start();
  quick.join();
  auto live = proctor::active_children();
  CHECK(live.size() == 2);
  CHECK(std::find(live.begin(), live.end(), a) != live.end());
  CHECK(std::find(live.begin(), live.end(), b) != live.end());
  a.kill();
  b.kill();
  a.join();
  b.join();
  CHECK(proctor::active_children().empty());
  REQUIRE_NO_LEFTOVERS(guard);
}
