#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/sync_board.hpp"
#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using namespace std::chrono_literals;
using proctor::barrier_errc;
using proctor::broken_barrier_error;
using proctor::segment_handle;
using proctor::shared_segment;
using proctor::shm_errc;
using proctor::shm_error;

namespace barrier_probes {

constexpr int rounds = 3;

// Board: word[r] has bit i set when some process got index i in round r; word[8] counts
// collisions (an index seen twice in a round); word[9] counts arrivals about to wait;
// big[0] counts runs of the action.

/// Waits at the barrier `rounds` times, recording the index it got each time.
void wait_rounds(proctor::barrier bar, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto& b = board_of(segment);
  for (int r = 0; r < rounds; ++r) {
    std::uint32_t index = bar.wait(60s);
    if (index >= bar.parties())
      proctor::exit(4);
    if ((b.word[r].fetch_or(1u << index) & (1u << index)) != 0)
      b.word[8].fetch_add(1);
  }
}

/// Arrives and waits once: exit 0 if released, 10 + the reason if broken, 3 otherwise.
void wait_once(proctor::barrier bar, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  board_of(segment).word[9].fetch_add(1);
  try {
    bar.wait(60s);
  } catch (const broken_barrier_error& e) {
    proctor::exit(10 + static_cast<int>(e.code()));
  }
  proctor::exit(0);
}

} // namespace barrier_probes

TEST_CASE("a barrier releases its parties together, each with its own arrival index",
          "[barrier]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr std::uint32_t parties = 4;
    auto shared = make_board();
    auto& b = board_of(shared);
    // An action is a function of this process: it reaches forked children only.
    std::function<void()> action;
    if (method == proctor::start_method::fork)
      action = [&b] { b.big[0].fetch_add(1); };
    proctor::barrier bar{parties, action};
    CHECK(bar.parties() == parties);
    std::vector<proctor::process> children;
    for (std::uint32_t i = 0; i < parties; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<barrier_probes::wait_rounds>, bar, shared.handle()));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    for (int r = 0; r < barrier_probes::rounds; ++r)
      CHECK(b.word[r] == (1u << parties) - 1); // every index once...
    CHECK(b.word[8] == 0);                     // ...and none twice
    if (method == proctor::start_method::fork)
      CHECK(b.big[0] == std::uint64_t{barrier_probes::rounds}); // once per round
    CHECK(bar.n_waiting() == 0);
    CHECK_FALSE(bar.broken());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a barrier wait that times out breaks the barrier for every waiter until reset",
          "[barrier]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::barrier bar{3};
    auto shared = make_board();
    auto waiter = proctor::get_context(method).make_process(
      proctor::entry<barrier_probes::wait_once>, bar, shared.handle());
    waiter.start();
    REQUIRE(wait_at_least(board_of(shared).word[9], 1));
    CHECK_THROWS_MATCHES(bar.wait(30ms), broken_barrier_error,
                         Catch::Predicate<broken_barrier_error>(
                           [](const auto& e) { return e.code() == barrier_errc::timeout; }));
    REQUIRE(waiter.join(90s));
    CHECK(waiter.exitcode() == 10 + static_cast<int>(barrier_errc::timeout));
    CHECK(bar.broken());
    CHECK_THROWS_AS(bar.wait(1s), broken_barrier_error);

    bar.reset();
    CHECK_FALSE(bar.broken());
    CHECK(bar.n_waiting() == 0);
    proctor::barrier one{1};
    CHECK(one.wait(0s) == 0); // a party of one never waits
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("aborting a barrier wakes its waiters with a broken error", "[barrier]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::barrier bar{3};
    auto shared = make_board();
    auto ctx = proctor::get_context(method);
    auto first = ctx.make_process(proctor::entry<barrier_probes::wait_once>, bar, shared.handle());
    auto second = ctx.make_process(proctor::entry<barrier_probes::wait_once>, bar, shared.handle());
    first.start();
    second.start();
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (bar.n_waiting() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE(bar.n_waiting() == 2);
    bar.abort();
    for (auto* p : {&first, &second}) {
      REQUIRE(p->join(90s));
      CHECK(p->exitcode() == 10 + static_cast<int>(barrier_errc::aborted));
    }
    CHECK(bar.broken());
    CHECK_THROWS_AS(bar.wait(0s), broken_barrier_error);
    bar.reset();
    CHECK_FALSE(bar.broken());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a barrier waiter killed while waiting still counts as arrived: the others go on",
          "[barrier]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::barrier bar{3};
    auto shared = make_board();
    auto ctx = proctor::get_context(method);
    auto doomed = ctx.make_process(proctor::entry<barrier_probes::wait_once>, bar, shared.handle());
    doomed.start();
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (bar.n_waiting() < 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE(bar.n_waiting() == 1);
    doomed.kill();
    REQUIRE(doomed.join(30s));
    CHECK(doomed.exitcode() == -SIGKILL);

    auto survivor = ctx.make_process(proctor::entry<barrier_probes::wait_once>, bar,
                                     shared.handle());
    survivor.start();
    CHECK(bar.wait(60s) <= 2);
    REQUIRE(survivor.join(90s));
    CHECK(survivor.exitcode() == 0);
    CHECK_FALSE(bar.broken());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a barrier action that throws breaks the barrier, and the thrower gets its exception",
          "[barrier]") {
  leftover_guard guard;
  {
    proctor::barrier bar{1, [] { throw std::runtime_error("action failed"); }};
    CHECK_THROWS_AS(bar.wait(1s), std::runtime_error);
    CHECK(bar.broken());
    CHECK_THROWS_MATCHES(bar.wait(0s), broken_barrier_error,
                         Catch::Predicate<broken_barrier_error>(
                           [](const auto& e) { return e.code() == barrier_errc::action_failed; }));
    CHECK_THROWS_MATCHES(proctor::barrier::open(bar.handle()), shm_error,
                         has_code(shm_errc::misuse)); // an action cannot cross without fork
    CHECK_THROWS_MATCHES(proctor::barrier{0}, shm_error, has_code(shm_errc::misuse));
    proctor::barrier empty;
    CHECK_THROWS_MATCHES(empty.wait(), shm_error, has_code(shm_errc::misuse));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a barrier with an action is refused by a spawned child", "[barrier]") {
  auto method = GENERATE(proctor::start_method::spawn, proctor::start_method::forkserver);
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    auto shared = make_board();
    proctor::barrier bar{2, [] {}};
    auto child = proctor::get_context(method).make_process(
      proctor::entry<barrier_probes::wait_once>, bar, shared.handle());
    child.start();
    REQUIRE(child.join(60s));
    CHECK(child.exitcode() != 0);
    CHECK(board_of(shared).word[9] == 0); // never reached its target
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
