#include <catch2/catch.hpp>

#include <sched.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using namespace std::chrono_literals;
using proctor::shm_errc;
using proctor::shm_error;

namespace value_probes {

constexpr int times = 1500;
constexpr std::size_t slots = 8;

/// Adds 1 to the value `times` times under its lock, yielding between read and write so that an
/// unguarded update would be lost.
template <class Lock>
void increment_value(proctor::value<std::uint64_t, Lock> v) {
  for (int i = 0; i < times; ++i) {
    proctor::lock_guard hold{v.get_lock()};
    std::uint64_t seen = v.get_obj();
    if (i % 16 == 0)
      ::sched_yield();
    if constexpr (std::is_same_v<Lock, proctor::rlock>)
      v.set(seen + 1); // the rlock is taken again inside set()
    else
      v.get_obj() = seen + 1;
  }
}

/// Adds i + 1 to element i, for every element, `times` times, under the array's lock.
template <class Lock>
void increment_array(proctor::array<std::uint32_t, slots, Lock> a) {
  for (int n = 0; n < times; ++n) {
    proctor::lock_guard hold{a.get_lock()};
    auto elements = a.get_obj();
    for (std::size_t i = 0; i < slots; ++i) {
      std::uint32_t seen = elements[i];
      if (i == 0 && n % 16 == 0)
        ::sched_yield();
      elements[i] = seen + static_cast<std::uint32_t>(i + 1);
    }
  }
}

struct point {
  std::int32_t x;
  double y;
};

/// Checks the value it got, then writes a new one: exit 0, or 3 if the value was not (7, 0.5).
void move_point(proctor::value<point> p, proctor::value<std::int64_t, proctor::rlock> raw_twin) {
  point seen = p.get();
  if (seen.x != 7 || seen.y != 0.5 || raw_twin.get() != -1)
    proctor::exit(3);
  p.set(point{seen.x * 2, seen.y * 4});
}

/// Writes into a value and an array without locks (single atomic stores).
void write_unlocked(proctor::value<std::uint64_t> v, proctor::array<std::uint16_t, 4> a) {
  v.set(42);
  for (std::size_t i = 0; i < a.size(); ++i)
    a.set(i, static_cast<std::uint16_t>(i * 10));
}

} // namespace value_probes

TEMPLATE_TEST_CASE("a value incremented under its lock by several processes reaches the exact total",
                   "[value]", proctor::rlock, proctor::lock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr int workers = 4;
    proctor::value<std::uint64_t, TestType> v{0};
    std::vector<proctor::process> children;
    for (int i = 0; i < workers; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<value_probes::increment_value<TestType>>, v));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    CHECK(v.get() == std::uint64_t{workers} * value_probes::times);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEMPLATE_TEST_CASE("an array updated under its lock by several processes reaches the exact totals",
                   "[array]", proctor::rlock, proctor::lock) {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    constexpr int workers = 3;
    proctor::array<std::uint32_t, value_probes::slots, TestType> a;
    std::vector<proctor::process> children;
    for (int i = 0; i < workers; ++i)
      children.push_back(proctor::get_context(method).make_process(
        proctor::entry<value_probes::increment_array<TestType>>, a));
    for (auto& p : children)
      p.start();
    for (auto& p : children) {
      REQUIRE(p.join(90s));
      CHECK(p.exitcode() == 0);
    }
    auto totals = a.to_array();
    for (std::size_t i = 0; i < value_probes::slots; ++i)
      CHECK(totals[i] == static_cast<std::uint32_t>(workers * value_probes::times * (i + 1)));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("values and arrays cross into children with or without a lock", "[value][array]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    proctor::rlock shared_lock;
    proctor::value<value_probes::point> p{{7, 0.5}, shared_lock};
    proctor::value<std::int64_t, proctor::rlock> twin{-1, shared_lock}; // one lock, two values
    auto child = proctor::get_context(method).make_process(proctor::entry<value_probes::move_point>,
                                                           p, twin);
    child.start();
    REQUIRE(child.join(60s));
    CHECK(child.exitcode() == 0);
    CHECK(p.get().x == 14);
    CHECK(p.get().y == 2.0);
    CHECK(p.get_lock() == twin.get_lock());

    proctor::value<std::uint64_t> v{0, proctor::no_lock};
    proctor::array<std::uint16_t, 4> a{{1, 1, 1, 1}, proctor::no_lock};
    CHECK_FALSE(v.has_lock());
    CHECK_THROWS_MATCHES(v.get_lock(), shm_error, has_code(shm_errc::misuse));
    CHECK_THROWS_MATCHES(a.get_lock(), shm_error, has_code(shm_errc::misuse));
    auto writer = proctor::get_context(method).make_process(
      proctor::entry<value_probes::write_unlocked>, v, a);
    writer.start();
    REQUIRE(writer.join(60s));
    CHECK(writer.exitcode() == 0);
    CHECK(v.get() == 42);
    CHECK(a.to_array() == std::array<std::uint16_t, 4>{0, 10, 20, 30});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("array access checks its index and a plain lock refuses a nested get", "[array]") {
  leftover_guard guard;
  {
    proctor::array<int, 3> a{{1, 2, 3}};
    CHECK(a.get(2) == 3);
    CHECK_THROWS_AS(a.get(3), std::out_of_range);
    CHECK_THROWS_AS(a.set(3, 0), std::out_of_range);
    a.assign({4, 5, 6});
    CHECK(a.to_array() == std::array<int, 3>{4, 5, 6});
    {
      proctor::lock_guard hold{a.get_lock()};
      a.set(0, 9); // an rlock: its holder may take it again
    }
    CHECK(a.get(0) == 9);

    proctor::value<int, proctor::lock> v{1};
    proctor::lock_guard hold{v.get_lock()};
    CHECK_THROWS_MATCHES(v.get(), shm_error, has_code(shm_errc::misuse));
    CHECK(v.get_obj() == 1);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
