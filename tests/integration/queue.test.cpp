#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/ring_lock_holder.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::queue;

namespace {

/// Puts ids [first, first + n) as strings that carry their id.
void produce(queue<std::string> q, int first, int n) {
  for (int i = first; i < first + n; ++i)
    if (!q.put("item-" + std::to_string(i), 60s))
      proctor::exit(2);
}

/// Gets `n` items and puts their ids, summed, on `results`.
void consume(queue<std::string> q, queue<std::int64_t> results, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    auto item = q.get(60s);
    if (!item)
      proctor::exit(3);
    sum += std::stoll(item->substr(5));
  }
  results.put(sum);
}

void finish_tasks(proctor::joinable_queue<int> q, int n) {
  for (int i = 0; i < n; ++i) {
    if (!q.get(60s))
      proctor::exit(4);
    q.task_done();
  }
}

} // namespace

TEST_CASE("many producer and consumer processes move every item exactly once", "[queue]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = 4096}};
    queue<std::int64_t> results;
    constexpr int producers = 3, consumers = 2, per_producer = 4000;
    std::vector<proctor::process> all;
    auto ctx = proctor::get_context(m);
    for (int p = 0; p < producers; ++p)
      all.push_back(ctx.make_process(entry<produce>, q, p * per_producer, per_producer));
    for (int c = 0; c < consumers; ++c)
      all.push_back(ctx.make_process(entry<consume>, q, results, producers * per_producer / consumers));
    for (auto& p : all)
      p.start();
    for (auto& p : all)
      p.join();
    for (auto& p : all)
      CHECK(p.exitcode() == 0);
    std::int64_t total = 0;
    for (int c = 0; c < consumers; ++c)
      total += *results.get(10s);
    constexpr std::int64_t n = producers * per_producer;
    CHECK(total == n * (n - 1) / 2);
    CHECK(q.empty());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a joinable queue's join returns once children marked every task done", "[queue]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    proctor::joinable_queue<int> q;
    for (int i = 0; i < 100; ++i)
      q.put(i);
    auto worker = proctor::get_context(m).make_process(entry<finish_tasks>, q, 100);
    worker.start();
    CHECK(q.join(60s));
    CHECK(q.unfinished_tasks() == 0);
    worker.join();
    CHECK(worker.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a put gives up with full while a process stopped inside a put holds the queue's lock "
          "and puts and gets go on once that process is killed",
          "[queue]") {
  leftover_guard guard;
  {
    queue<std::string> q;
    REQUIRE(q.put(std::string("before")));
    // As a process stopped in the middle of a put leaves the queue (a debugger's breakpoint, a
    // SIGSTOP): its lock held by a live process that never lets go.
    ring_lock_holder holder{q.handle()};
    REQUIRE(holder.locked());
    auto now = q.put_nowait(std::string("now")); // waits out the lock's grace, then gives up
    REQUIRE_FALSE(now);
    CHECK(now.error() == proctor::queue_errc::full);
    auto timed = q.put(std::string("timed"), 100ms);
    REQUIRE_FALSE(timed);
    CHECK(timed.error() == proctor::queue_errc::full);
    CHECK(*q.get(5s) == "before"); // getters hold a lease of their own: not held up
    CHECK(holder.let_go() == -SIGKILL);
    // The next put is told that the holder died, repairs what it may have left, and goes on.
    REQUIRE(q.put(std::string("after"), 5s));
    CHECK(*q.get(5s) == "after");
    CHECK(q.empty());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
