#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <thread>
#include <type_traits>
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
using proctor::wait_result;

namespace condition_probes {

/// A bounded buffer guarded by the condition's lock (plain fields: the lock orders them).
struct buffer {
  static constexpr std::uint32_t capacity = 4;
  std::uint32_t items[capacity];
  std::uint32_t head;     ///< Next slot to take.
  std::uint32_t size;
  std::uint32_t taken;    ///< Items consumed so far, by every consumer.
  std::uint64_t sum;      ///< Of the items consumed.
  std::uint32_t ready;    ///< Waiters about to wait (in the kill test).
  std::uint32_t go;       ///< Set by the test to release them.
};

constexpr std::uint32_t per_producer = 300;
constexpr std::uint32_t producers = 2;
constexpr std::uint32_t total = per_producer * producers;

/// Puts 1..per_producer into the buffer, waiting while it is full.
template <class Condition>
void produce(Condition cv, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto& b = *static_cast<buffer*>(segment.data());
  for (std::uint32_t x = 1; x <= per_producer; ++x) {
    proctor::lock_guard hold{cv};
    if (!cv.wait_for([&] { return b.size < buffer::capacity; }, 60s))
      proctor::exit(3);
    b.items[(b.head + b.size) % buffer::capacity] = x;
    ++b.size;
    cv.notify_all();
  }
}

/// Takes items until every produced item has been taken by somebody.
template <class Condition>
void consume(Condition cv, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto& b = *static_cast<buffer*>(segment.data());
  proctor::lock_guard hold{cv};
  for (;;) {
    if (!cv.wait_for([&] { return b.size > 0 || b.taken == total; }, 60s))
      proctor::exit(3);
    if (b.size == 0)
      return; // all taken
    b.sum += b.items[b.head];
    b.head = (b.head + 1) % buffer::capacity;
    --b.size;
    ++b.taken;
    cv.notify_all();
  }
}

/// Says it waits (under the lock), then waits until `go`: exit 0, or 3 on timeout.
template <class Condition>
void wait_for_go(Condition cv, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto& b = *static_cast<buffer*>(segment.data());
  proctor::lock_guard hold{cv};
  ++b.ready;
  proctor::exit(cv.wait_for([&] { return b.go != 0; }, 60s) ? 0 : 3);
}

/// Reads `ready` under the condition's lock.
template <class Condition>
std::uint32_t ready_count(Condition& cv, buffer& b) {
  proctor::lock_guard hold{cv};
  return b.ready;
}

} // namespace condition_probes

using condition_probes::buffer;

TEMPLATE_TEST_CASE("a condition lets producer and consumer processes share a bounded buffer",
                   "[condition]", proctor::condition, proctor::basic_condition<proctor::lock>) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    TestType cv;
    auto shared = shared_segment::create(sizeof(buffer));
    auto ctx = proctor::get_context(method);
    std::vector<proctor::process> children;
    for (std::uint32_t i = 0; i < condition_probes::producers; ++i)
      children.push_back(ctx.make_process(proctor::entry<condition_probes::produce<TestType>>, cv,
                                          shared.handle()));
    for (int i = 0; i < 2; ++i)
      children.push_back(ctx.make_process(proctor::entry<condition_probes::consume<TestType>>, cv,
                                          shared.handle()));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    auto& b = *static_cast<buffer*>(shared.data());
    CHECK(b.taken == condition_probes::total);
    CHECK(b.size == 0);
    std::uint64_t per = condition_probes::per_producer;
    CHECK(b.sum == condition_probes::producers * per * (per + 1) / 2);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEMPLATE_TEST_CASE("waiting on a condition needs its lock and gives it back on timeout",
                   "[condition]", proctor::condition, proctor::basic_condition<proctor::lock>) {
  leftover_guard guard;
  {
    TestType cv;
    CHECK_THROWS_MATCHES(cv.wait(10ms), shm_error, has_code(shm_errc::misuse));
    REQUIRE(cv.acquire() == proctor::acquire_result::acquired);
    if constexpr (std::is_same_v<TestType, proctor::condition>)
      REQUIRE(cv.acquire() == proctor::acquire_result::acquired); // two levels of the rlock
    CHECK(cv.wait(20ms) == wait_result::timeout);
    CHECK_FALSE(cv.wait_for([] { return false; }, 20ms));
    CHECK(cv.wait_for([] { return true; }, 0s));
    cv.notify(); // nobody waits: nothing happens
    cv.notify_all();
    if constexpr (std::is_same_v<TestType, proctor::condition>)
      cv.release(); // every level was taken back
    cv.release();
    CHECK_THROWS_MATCHES(cv.release(), shm_error, has_code(shm_errc::misuse));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a condition waiter killed while waiting does not keep a notify from the others",
          "[condition]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::condition cv;
    auto shared = shared_segment::create(sizeof(buffer));
    auto& b = *static_cast<buffer*>(shared.data());
    auto ctx = proctor::get_context(method);
    auto doomed = ctx.make_process(proctor::entry<condition_probes::wait_for_go<proctor::condition>>,
                                   cv, shared.handle());
    auto survivor = ctx.make_process(
      proctor::entry<condition_probes::wait_for_go<proctor::condition>>, cv, shared.handle());
    doomed.start();
    survivor.start();
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (condition_probes::ready_count(cv, b) < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE(condition_probes::ready_count(cv, b) == 2); // both released the lock in wait
    doomed.kill();
    REQUIRE(doomed.join(30s));
    CHECK(doomed.exitcode() == -SIGKILL);
    {
      proctor::lock_guard hold{cv};
      b.go = 1;
      cv.notify(1);
    }
    REQUIRE(survivor.join(90s));
    CHECK(survivor.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
