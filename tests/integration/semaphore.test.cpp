#include <catch2/catch.hpp>

#include <sched.h>

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

namespace semaphore_probes {

// Board words: 0 holders now, 1 most holders seen, 2 processes about to wait.

/// Takes the semaphore `times` times, counting the holders at once while it holds a unit.
template <class Semaphore>
void hold_repeatedly(Semaphore sem, segment_handle shared, int times) {
  auto segment = shared_segment::open(shared);
  auto& b = board_of(segment);
  for (int i = 0; i < times; ++i) {
    if (!sem.acquire(60s))
      proctor::exit(3);
    raise_to(b.word[1], b.word[0].fetch_add(1) + 1);
    ::sched_yield();
    b.word[0].fetch_sub(1);
    sem.release();
  }
}

/// Says it is about to wait, then waits for a unit: exit 0 if it got one, 3 on timeout.
template <class Semaphore>
void acquire_one(Semaphore sem, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  board_of(segment).word[2].fetch_add(1);
  proctor::exit(sem.acquire(60s) ? 0 : 3);
}

/// Releases a bounded semaphore once more than it was acquired: exit 10 + the error code.
void release_too_many(proctor::bounded_semaphore sem) {
  try {
    sem.release();
  } catch (const shm_error& e) {
    proctor::exit(10 + static_cast<int>(e.code()));
  }
  proctor::exit(2);
}

} // namespace semaphore_probes

TEMPLATE_TEST_CASE("a semaphore limits how many processes hold it at once", "[semaphore]",
                   proctor::semaphore, proctor::bounded_semaphore) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr int workers = 5;
    TestType sem{2};
    auto shared = make_board();
    std::vector<proctor::process> children;
    for (int i = 0; i < workers; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<semaphore_probes::hold_repeatedly<TestType>>, sem, shared.handle(), 300));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    CHECK(board_of(shared).word[1] >= 1);
    CHECK(board_of(shared).word[1] <= 2);
    CHECK(sem.get_value() == 2);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a bounded semaphore refuses a release beyond its initial value", "[semaphore]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::bounded_semaphore sem{2};
    CHECK_THROWS_MATCHES(sem.release(), shm_error, has_code(shm_errc::misuse));
    REQUIRE(sem.acquire(0s));
    CHECK_THROWS_MATCHES(sem.release(2), shm_error, has_code(shm_errc::misuse));
    CHECK(sem.get_value() == 1); // a refused release changes nothing
    sem.release();
    CHECK(sem.get_value() == 2);

    auto child = proctor::get_context(method).make_process(
      proctor::entry<semaphore_probes::release_too_many>, sem);
    child.start();
    REQUIRE(child.join(60s));
    CHECK(child.exitcode() == 10 + static_cast<int>(shm_errc::misuse));
    CHECK(sem.get_value() == 2);

    proctor::semaphore plain{2};
    plain.release(3); // an unbounded one may go above its initial value, as in Python
    CHECK(plain.get_value() == 5);
    CHECK_THROWS_MATCHES(plain.release(proctor::semaphore_max), shm_error,
                         has_code(shm_errc::misuse));
    CHECK_THROWS_MATCHES(proctor::semaphore{proctor::semaphore_max + 1}, shm_error,
                         has_code(shm_errc::misuse));
    CHECK_THROWS_MATCHES(proctor::semaphore::open(sem.handle()), shm_error,
                         has_code(shm_errc::invalid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a semaphore acquire gives up after its timeout and wakes for a release from another process",
          "[semaphore]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::semaphore sem{0};
    CHECK_FALSE(sem.acquire(0s));
    CHECK_FALSE(sem.acquire(30ms));

    auto shared = make_board();
    auto waiter = proctor::get_context(method).make_process(
      proctor::entry<semaphore_probes::acquire_one<proctor::semaphore>>, sem, shared.handle());
    waiter.start();
    REQUIRE(wait_at_least(board_of(shared).word[2], 1));
    sem.release();
    REQUIRE(waiter.join(90s));
    CHECK(waiter.exitcode() == 0);
    CHECK(sem.get_value() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a semaphore waiter killed while waiting does not wedge the others", "[semaphore]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::semaphore sem{0};
    auto shared = make_board();
    auto ctx = proctor::get_context(method);
    auto doomed = ctx.make_process(proctor::entry<semaphore_probes::acquire_one<proctor::semaphore>>,
                                   sem, shared.handle());
    auto survivor = ctx.make_process(
      proctor::entry<semaphore_probes::acquire_one<proctor::semaphore>>, sem, shared.handle());
    doomed.start();
    survivor.start();
    REQUIRE(wait_at_least(board_of(shared).word[2], 2));
    std::this_thread::sleep_for(20ms); // most likely asleep in acquire by now; either way works
    doomed.kill();
    REQUIRE(doomed.join(30s));
    CHECK(doomed.exitcode() == -SIGKILL);
    sem.release();
    REQUIRE(survivor.join(90s));
    CHECK(survivor.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
