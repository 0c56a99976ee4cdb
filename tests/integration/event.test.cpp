#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/sync_board.hpp"
#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using namespace std::chrono_literals;
using proctor::segment_handle;
using proctor::shared_segment;
using proctor::shm_errc;
using proctor::shm_error;

namespace event_probes {

// Board word 0: processes about to wait.

/// Says it is about to wait, then waits for the event: exit 0 if it was set, 3 on timeout.
void wait_for_event(proctor::event ev, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  board_of(segment).word[0].fetch_add(1);
  proctor::exit(ev.wait(60s) ? 0 : 3);
}

} // namespace event_probes

TEST_CASE("setting an event wakes the processes waiting for it", "[event]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr int waiters = 4;
    proctor::event ev;
    auto shared = make_board();
    std::vector<proctor::process> children;
    for (int i = 0; i < waiters; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<event_probes::wait_for_event>, ev, shared.handle()));
    for (auto& p : children)
      p.start();
    REQUIRE(wait_at_least(board_of(shared).word[0], waiters));
    ev.set();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    CHECK(ev.is_set());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an event's flag is raised by set, lowered by clear, and waits time out while low",
          "[event]") {
  leftover_guard guard;
  {
    proctor::event ev;
    CHECK_FALSE(ev.is_set());
    CHECK_FALSE(ev.wait(0s));
    CHECK_FALSE(ev.wait(30ms));
    ev.set();
    ev.set(); // idempotent
    CHECK(ev.is_set());
    CHECK(ev.wait(0s));
    ev.wait();
    auto copy = proctor::event::open(ev.handle());
    CHECK(copy.is_set()); // the same flag, mapped twice
    copy.clear();
    CHECK_FALSE(ev.is_set());
    CHECK_FALSE(ev.wait(10ms));

    CHECK_THROWS_MATCHES(proctor::semaphore::open(ev.handle()), shm_error,
                         has_code(shm_errc::invalid));
    auto moved = std::move(ev);
    CHECK_THROWS_MATCHES(ev.set(), shm_error, has_code(shm_errc::misuse));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an event waiter killed while waiting does not keep the others from waking", "[event]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::event ev;
    auto shared = make_board();
    auto ctx = proctor::get_context(method);
    auto doomed = ctx.make_process(proctor::entry<event_probes::wait_for_event>, ev, shared.handle());
    auto survivor = ctx.make_process(proctor::entry<event_probes::wait_for_event>, ev,
                                     shared.handle());
    doomed.start();
    survivor.start();
    REQUIRE(wait_at_least(board_of(shared).word[0], 2));
    std::this_thread::sleep_for(20ms); // most likely asleep in wait by now; either way works
    doomed.kill();
    REQUIRE(doomed.join(30s));
    CHECK(doomed.exitcode() == -SIGKILL);
    ev.set();
    REQUIRE(survivor.join(90s));
    CHECK(survivor.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
