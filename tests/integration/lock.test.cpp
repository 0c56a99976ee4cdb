#include <catch2/catch.hpp>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using namespace std::chrono_literals;
using proctor::acquire_result;
using proctor::segment_handle;
using proctor::shared_segment;
using proctor::shm_errc;
using proctor::shm_error;

namespace lock_probes {

/// Flags a test and its children exchange in a segment; accessed through std::atomic_ref.
struct flags {
  std::uint32_t held;    ///< Set by the child once it holds the lock.
  std::uint32_t release; ///< Set by the parent to let the child release it.
};

std::uint32_t load(std::uint32_t& word) {
  return std::atomic_ref<std::uint32_t>{word}.load(std::memory_order_acquire);
}

void store(std::uint32_t& word, std::uint32_t value) {
  std::atomic_ref<std::uint32_t>{word}.store(value, std::memory_order_release);
}

/// Waits (polling) until `word` is 1; false after `limit`.
bool wait_set(std::uint32_t& word, std::chrono::seconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (load(word) != 1) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// Acquires `l` as its holder would: twice for an rlock, to hold it recursively.
template <class Lock>
acquire_result take(Lock& l) {
  auto result = l.acquire(60s);
  if constexpr (std::is_same_v<Lock, proctor::rlock>) {
    if (holds(result) && l.acquire(60s) != acquire_result::acquired)
      proctor::exit(4);
  }
  return result;
}

template <class Lock>
void give_back(Lock& l) {
  if constexpr (std::is_same_v<Lock, proctor::rlock>)
    l.release();
  l.release();
}

/// Adds 1 to the counter `times` times, each time under the lock, with a yield between the read
/// and the write so that an unguarded update would be lost.
template <class Lock>
void increment(Lock l, segment_handle counter, int times) {
  auto segment = shared_segment::open(counter);
  auto* value = static_cast<volatile std::uint64_t*>(segment.data());
  for (int i = 0; i < times; ++i) {
    proctor::lock_guard hold{l};
    std::uint64_t seen = *value;
    if (i % 16 == 0)
      ::sched_yield();
    if constexpr (std::is_same_v<Lock, proctor::rlock>) {
      proctor::lock_guard again{l}; // recursive: its holder may take it again
      *value = seen + 1;
    } else {
      *value = seen + 1;
    }
  }
}

/// Takes the lock, says so, and holds it until killed.
template <class Lock>
void hold_until_killed(Lock l, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto* f = static_cast<flags*>(segment.data());
  if (!holds(take(l)))
    proctor::exit(3);
  store(f->held, 1);
  std::this_thread::sleep_for(50s);
  proctor::exit(5); // never killed: the test failed
}

/// Takes the lock, says so, and releases it when told.
template <class Lock>
void hold_until_told(Lock l, segment_handle shared) {
  auto segment = shared_segment::open(shared);
  auto* f = static_cast<flags*>(segment.data());
  if (take(l) != acquire_result::acquired)
    proctor::exit(3);
  store(f->held, 1);
  if (!wait_set(f->release, 50s))
    proctor::exit(5);
  give_back(l);
}

/// Exits with 10 + the acquire_result of one acquire.
template <class Lock>
void acquire_and_report(Lock l) {
  auto result = l.acquire(60s);
  if (holds(result))
    l.release();
  proctor::exit(10 + static_cast<int>(result));
}

} // namespace lock_probes

using lock_probes::flags;

TEMPLATE_TEST_CASE("a lock excludes the processes that update a counter under it", "[lock]",
                   proctor::lock, proctor::rlock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr int workers = 4;
    constexpr int times = 2000;
    TestType l;
    auto counter = shared_segment::create(sizeof(std::uint64_t));
    std::vector<proctor::process> children;
    for (int i = 0; i < workers; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<lock_probes::increment<TestType>>, l, counter.handle(), times));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(60s));
      CHECK(p.exitcode() == 0);
    }
    CHECK(*static_cast<std::uint64_t*>(counter.data()) == std::uint64_t{workers} * times);
    CHECK(l.acquire(0s) == acquire_result::acquired); // left free, and still ours to use
    l.release();
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEMPLATE_TEST_CASE("a holder killed with the lock leaves it usable: the next acquire says so",
                   "[lock]", proctor::lock, proctor::rlock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    TestType l;
    auto shared = shared_segment::create(sizeof(flags));
    auto* f = static_cast<flags*>(shared.data());
    auto holder = proctor::get_context(method).make_process(
      proctor::entry<lock_probes::hold_until_killed<TestType>>, l, shared.handle());
    holder.start();
    REQUIRE(lock_probes::wait_set(f->held));
    CHECK(l.acquire(0s) == acquire_result::timeout);

    holder.kill();
    REQUIRE(holder.join(30s));
    CHECK(holder.exitcode() == -SIGKILL);

    CHECK(l.acquire(30s) == acquire_result::acquired_owner_died);
    l.release();
    CHECK(l.acquire(30s) == acquire_result::acquired); // repaired: an ordinary lock again
    l.release();
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEMPLATE_TEST_CASE("a process waiting for a lock whose holder is killed gets it with owner_died",
                   "[lock]", proctor::lock, proctor::rlock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    TestType l;
    auto shared = shared_segment::create(sizeof(flags));
    auto* f = static_cast<flags*>(shared.data());
    auto ctx = proctor::get_context(method);
    auto holder = ctx.make_process(proctor::entry<lock_probes::hold_until_killed<TestType>>, l,
                                   shared.handle());
    auto waiter = ctx.make_process(proctor::entry<lock_probes::acquire_and_report<TestType>>, l);
    holder.start();
    REQUIRE(lock_probes::wait_set(f->held));
    waiter.start(); // waits, or is about to: either way the holder dies holding the lock
    holder.kill();
    REQUIRE(holder.join(30s));
    REQUIRE(waiter.join(90s));
    CHECK(waiter.exitcode() == 10 + static_cast<int>(acquire_result::acquired_owner_died));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEMPLATE_TEST_CASE("acquire gives up after its timeout while another process holds the lock",
                   "[lock]", proctor::lock, proctor::rlock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    TestType l;
    auto shared = shared_segment::create(sizeof(flags));
    auto* f = static_cast<flags*>(shared.data());
    auto holder = proctor::get_context(method).make_process(
      proctor::entry<lock_probes::hold_until_told<TestType>>, l, shared.handle());
    holder.start();
    REQUIRE(lock_probes::wait_set(f->held));

    CHECK(l.acquire(0s) == acquire_result::timeout);
    CHECK(l.acquire(50ms) == acquire_result::timeout);
    {
      proctor::lock_guard hold{l, 20ms};
      CHECK_FALSE(hold.owns_lock());
      CHECK(hold.result() == acquire_result::timeout);
    }

    lock_probes::store(f->release, 1);
    CHECK(l.acquire(30s) == acquire_result::acquired);
    l.release();
    REQUIRE(holder.join(30s));
    CHECK(holder.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a lock refuses misuse with a clear error", "[lock]") {
  leftover_guard guard;
  {
    proctor::lock l;
    CHECK_THROWS_MATCHES(l.release(), shm_error, has_code(shm_errc::misuse));
    REQUIRE(l.acquire() == acquire_result::acquired);
    CHECK_THROWS_MATCHES(l.acquire(), shm_error, has_code(shm_errc::misuse)); // not recursive
    std::thread other{[&] {
      CHECK(l.acquire(0s) == acquire_result::timeout);
      CHECK_THROWS_MATCHES(l.release(), shm_error, has_code(shm_errc::misuse)); // not its holder
    }};
    other.join();
    l.release();

    proctor::rlock r;
    REQUIRE(r.acquire() == acquire_result::acquired);
    REQUIRE(r.acquire() == acquire_result::acquired);
    r.release();
    r.release();
    CHECK_THROWS_MATCHES(r.release(), shm_error, has_code(shm_errc::misuse));

    CHECK_THROWS_MATCHES(proctor::rlock::open(l.handle()), shm_error, has_code(shm_errc::invalid));
    CHECK_THROWS_MATCHES(proctor::lock::open(r.handle()), shm_error, has_code(shm_errc::invalid));
    auto copy = proctor::lock::open(l.handle());
    CHECK(copy.acquire(0s) == acquire_result::acquired); // the same lock, mapped twice
    std::thread{[&] { CHECK(l.acquire(0s) == acquire_result::timeout); }}.join();
    copy.release();

    auto moved = std::move(l);
    CHECK_THROWS_MATCHES(l.acquire(), shm_error, has_code(shm_errc::misuse));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a lock's segment goes when the creator's last copy goes", "[lock]") {
  leftover_guard guard;
  segment_handle handle;
  {
    proctor::lock l;
    handle = l.handle();
    auto copy = l;
    { auto opened = proctor::lock::open(handle); }
    CHECK(copy == l);
  }
  CHECK_THROWS_MATCHES(proctor::lock::open(handle), shm_error, has_code(shm_errc::not_found));
  REQUIRE_NO_LEFTOVERS(guard);
}
