// The executor (concurrent.futures on a proctor pool): futures and their states, timeouts,
// cancellation, done callbacks, wait and as_completed, shutdown, and a worker crash that costs
// only its own future.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/pool_support.hpp"
#include "support/leftovers.hpp"

using namespace std::chrono_literals;
using namespace pool_test;
using proctor::executor;
using proctor::exit_kind;
using proctor::return_when;
using proctor::task;
using proctor::task_errc;
using proctor::task_error;
using proctor::test::leftover_guard;

namespace executor_tasks {

std::int32_t square(std::int32_t x) {
  return x * x;
}

std::string greet(std::string name) {
  return "hello " + name;
}

void nothing() {}

/// Throws for negative inputs.
std::int32_t checked_square(std::int32_t x) {
  if (x < 0)
    throw std::domain_error("no square for " + std::to_string(x) + " today");
  return x * x;
}

std::int32_t wait_then(proctor::event g, std::int32_t value) {
  pass(std::move(g));
  return value;
}

/// Dies as `how` (a pool_test::death) says.
std::int32_t die_by(std::int32_t how) {
  die(how);
}

} // namespace executor_tasks

using namespace executor_tasks;

using future = proctor::future<std::int32_t>;

TEST_CASE("an executor's future gives the task's result", "[executor]") {
  leftover_guard guard;
  {
    executor ex{2};
    auto f = ex.submit(task<square>, 10);
    CHECK(f.result() == 100);
    CHECK(f.done());
    CHECK_FALSE(f.running());
    CHECK_FALSE(f.cancelled());
    CHECK_FALSE(f.exception());
    CHECK_FALSE(f.cancel()); // too late: it is done
    CHECK_FALSE(f.cancelled());
    CHECK(f.wait(0s));

    CHECK(ex.submit(task<greet>, std::string{"bob"}).result() == "hello bob");
    auto v = ex.submit(task<nothing>);
    static_assert(std::is_same_v<decltype(v.result()), std::monostate>);
    CHECK_NOTHROW(v.result());
    CHECK(ex.worker_pids().size() == 2);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor future's result with a timeout throws timeout_error while its task runs",
          "[executor]") {
  leftover_guard guard;
  {
    executor ex{2};
    gate g;
    auto f = ex.submit(task<wait_then>, g.event(), 7);
    CHECK_THROWS_AS(f.result(50ms), proctor::timeout_error);
    CHECK_FALSE(f.done());
    CHECK_FALSE(f.wait(10ms));
    CHECK(eventually([&] { return f.running(); }));
    CHECK_FALSE(f.cancel()); // a worker has it
    CHECK_FALSE(f.cancelled());
    CHECK_FALSE(f.done());

    g.open();
    CHECK(f.result(patience) == 7);
    CHECK(f.done());
    CHECK_FALSE(f.running());
    CHECK_FALSE(f.cancelled());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor future of a task that throws gives its error through exception() and "
          "result()",
          "[executor]") {
  leftover_guard guard;
  {
    executor ex{2};
    auto f = ex.submit(task<checked_square>, -2);
    auto e = f.exception();
    REQUIRE(e);
    CHECK(e->code() == task_errc::raised);
    CHECK(e->message() == "no square for -2 today");
    CHECK(f.done());
    CHECK_FALSE(f.cancelled());
    CHECK_THROWS_MATCHES(f.result(), task_error, is_task_error(task_errc::raised, 0));
    CHECK_THROWS_WITH(f.result(patience), Catch::Contains("no square for -2 today"));
    // The worker survived its task's exception.
    CHECK(ex.submit(task<checked_square>, 4).result() == 16);
    CHECK(ex.workers_started() == 2);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("cancelling an executor future that no worker has started makes its result throw "
          "cancelled",
          "[executor]") {
  leftover_guard guard;
  {
    executor ex{2};
    gate g;
    // More held tasks than the two workers take (a worker holds at most two chunks): the
    // future submitted after them waits in the pool's queue for as long as the gate is shut.
    std::vector<future> blockers;
    for (std::int32_t i = 0; i < 5; ++i)
      blockers.push_back(ex.submit(task<wait_then>, g.event(), i));
    REQUIRE(eventually([&] {
      return std::count_if(blockers.begin(), blockers.end(), [](auto& b) { return b.running(); })
             >= 2;
    }));
    auto f = ex.submit(task<square>, 3);
    CHECK_FALSE(f.running());
    CHECK_FALSE(f.done());
    CHECK(f.cancel());
    CHECK(f.cancelled());
    CHECK(f.done());
    CHECK_FALSE(f.running());
    CHECK(f.cancel()); // again: it is cancelled
    CHECK_THROWS_MATCHES(f.result(), task_error, is_task_error(task_errc::cancelled));
    auto e = f.exception();
    REQUIRE(e);
    CHECK(e->code() == task_errc::cancelled);

    g.open();
    for (std::int32_t i = 0; i < 5; ++i)
      CHECK(blockers[i].result(patience) == i);
    CHECK(f.cancelled()); // it never ran
    CHECK(ex.submit(task<square>, 4).result() == 16);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor future's done callback runs once, and at once on a future that is "
          "already done",
          "[executor]") {
  leftover_guard guard;
  {
    executor ex{2};
    gate g;
    std::mutex mu;
    std::vector<std::string> seen;
    auto note = [&](std::string s) {
      std::lock_guard lock{mu};
      seen.push_back(std::move(s));
    };
    auto count = [&] {
      std::lock_guard lock{mu};
      return seen.size();
    };

    auto f = ex.submit(task<wait_then>, g.event(), 5);
    f.add_done_callback([&](const future& x) { note("first " + std::to_string(x.result())); });
    auto bad = ex.submit(task<checked_square>, -1);
    bad.add_done_callback([&](const future& x) {
      auto e = x.exception();
      note(e ? std::string{"failed: "} + to_string(e->code()) : std::string{"no error"});
    });
    REQUIRE(eventually([&] { return count() == 1; })); // bad's
    CHECK_FALSE(f.done()); // held: its callback cannot have run
    g.open();
    REQUIRE(eventually([&] { return count() == 2; }));

    // Done, and its callbacks have run: a new one runs at once, here.
    auto here = std::this_thread::get_id();
    std::thread::id ran_on;
    f.add_done_callback([&](const future& x) {
      ran_on = std::this_thread::get_id();
      note("second " + std::to_string(x.result()));
    });
    CHECK(count() == 3);
    CHECK(ran_on == here);

    ex.shutdown(true); // no callback can run after this
    std::lock_guard lock{mu};
    std::multiset<std::string> got(seen.begin(), seen.end());
    CHECK(got == std::multiset<std::string>{"first 5", "failed: raised", "second 5"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("proctor::wait on executor futures returns at the first completion, the first "
          "exception, all completions or its timeout",
          "[executor][wait]") {
  leftover_guard guard;
  {
    executor ex{3};
    gate g;
    auto slow = ex.submit(task<wait_then>, g.event(), 1);
    REQUIRE(eventually([&] { return slow.running(); }));
    auto fast = ex.submit(task<square>, 3);

    auto first = proctor::wait(std::vector{slow, fast}, patience, return_when::first_completed);
    CHECK(first.done == std::vector{fast});
    CHECK(first.not_done == std::vector{slow});

    auto timed_out = proctor::wait(std::vector{slow, fast}, 100ms, return_when::all_completed);
    CHECK(timed_out.done == std::vector{fast});
    CHECK(timed_out.not_done == std::vector{slow});

    auto bad = ex.submit(task<checked_square>, -1);
    auto failed = proctor::wait(std::vector{slow, bad}, patience, return_when::first_exception);
    CHECK(failed.done == std::vector{bad});
    CHECK(failed.not_done == std::vector{slow});

    // Without a failure, first_exception waits for all.
    auto other = ex.submit(task<square>, 4);
    auto no_failure = proctor::wait(std::vector{fast, other}, patience,
                                    return_when::first_exception);
    CHECK(no_failure.done.size() == 2);
    CHECK(no_failure.not_done.empty());

    auto none = proctor::wait(std::vector<future>{}, patience, return_when::first_completed);
    CHECK(none.done.empty());
    CHECK(none.not_done.empty());

    g.open();
    auto all = proctor::wait(std::vector{slow, fast, bad, other});
    CHECK(all.done.size() == 4);
    CHECK(all.not_done.empty());
    CHECK(slow.result() == 1);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("proctor::as_completed yields every executor future once, in the order they complete",
          "[executor][wait]") {
  leftover_guard guard;
  {
    executor ex{3};
    gate g0;
    gate g1;
    gate g2;
    auto f0 = ex.submit(task<wait_then>, g0.event(), 0);
    auto f1 = ex.submit(task<wait_then>, g1.event(), 1);
    auto f2 = ex.submit(task<wait_then>, g2.event(), 2);
    // Three workers, three held tasks: each has a worker of its own.
    REQUIRE(eventually([&] { return f0.running() && f1.running() && f2.running(); }));

    proctor::as_completed in_order{std::vector{f0, f1, f2}, patience};
    g2.open();
    auto a = in_order.next();
    REQUIRE(a);
    CHECK(*a == f2);
    CHECK(a->result() == 2);
    g0.open();
    auto b = in_order.next();
    REQUIRE(b);
    CHECK(*b == f0);
    g1.open();
    auto c = in_order.next();
    REQUIRE(c);
    CHECK(*c == f1);
    CHECK_FALSE(in_order.next());

    // Range-for over many: each once.
    std::vector<future> many;
    for (std::int32_t i = 0; i < 30; ++i)
      many.push_back(ex.submit(task<square>, i));
    std::set<std::int32_t> results;
    std::size_t yielded = 0;
    for (const auto& f : proctor::as_completed{many}) {
      CHECK(f.done());
      results.insert(f.result());
      ++yielded;
    }
    CHECK(yielded == 30);
    CHECK(results.size() == 30);

    // A timeout for the whole iteration.
    gate held;
    auto h = ex.submit(task<wait_then>, held.event(), 9);
    proctor::as_completed late{std::vector{h}, 50ms};
    CHECK_THROWS_AS(late.next(), proctor::timeout_error);
    held.open();
    CHECK(h.result(patience) == 9);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor's shutdown with cancel_futures cancels what no worker has started and "
          "waits for the rest",
          "[executor][shutdown]") {
  leftover_guard guard;
  {
    executor ex{2};
    gate g;
    std::vector<future> blockers;
    for (std::int32_t i = 0; i < 5; ++i)
      blockers.push_back(ex.submit(task<wait_then>, g.event(), i));
    REQUIRE(eventually([&] {
      return std::count_if(blockers.begin(), blockers.end(), [](auto& b) { return b.running(); })
             >= 2;
    }));
    std::vector<bool> started;
    for (auto& b : blockers)
      started.push_back(b.running());
    std::vector<future> queued;
    for (std::int32_t i = 0; i < 3; ++i)
      queued.push_back(ex.submit(task<square>, i));

    std::thread stopper([&] { ex.shutdown(true, true); });
    CHECK(eventually([&] {
      return std::all_of(queued.begin(), queued.end(), [](auto& f) { return f.cancelled(); });
    }));
    g.open();
    stopper.join();

    for (auto& f : queued)
      CHECK_THROWS_MATCHES(f.result(), task_error, is_task_error(task_errc::cancelled));
    for (std::int32_t i = 0; i < 5; ++i) {
      INFO("blocker " << i << (started[i] ? " (started)" : ""));
      REQUIRE(blockers[i].done());
      if (started[i] || !blockers[i].cancelled())
        CHECK(blockers[i].result() == i);
      else
        CHECK_THROWS_MATCHES(blockers[i].result(), task_error,
                             is_task_error(task_errc::cancelled));
    }
    CHECK(ex.worker_pids().empty());
    CHECK_THROWS_AS(ex.submit(task<square>, 1), std::logic_error);
    ex.shutdown(true, true); // again: harmless
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor refuses submissions after shutdown, and shutdown without wait returns "
          "while tasks run",
          "[executor][shutdown]") {
  leftover_guard guard;
  {
    executor ex{2};
    gate g;
    auto f = ex.submit(task<wait_then>, g.event(), 3);
    ex.shutdown(false);
    CHECK_FALSE(f.done()); // held by the gate: shutdown did not wait for it
    CHECK_THROWS_AS(ex.submit(task<square>, 1), std::logic_error);
    g.open();
    CHECK(f.result(patience) == 3);
    ex.shutdown(true);
    CHECK(ex.worker_pids().empty());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a worker crash fails only its own executor future, and the executor goes on serving",
          "[executor][crash]") {
  leftover_guard guard;
  {
    executor ex{2};
    std::vector<future> squares;
    std::vector<future> deaths;
    for (std::int32_t i = 0; i < 30; ++i) {
      squares.push_back(ex.submit(task<square>, i));
      if (i % 10 == 5) // sigsegv, sigabrt, sigkill
        deaths.push_back(ex.submit(task<die_by>, std::int32_t{1 + i / 10}));
    }
    for (std::int32_t i = 0; i < 30; ++i)
      CHECK(squares[i].result() == i * i);
    for (std::size_t k = 0; k < deaths.size(); ++k) {
      auto how = static_cast<std::int32_t>(1 + k);
      INFO("death by signal " << signal_of(how));
      auto e = deaths[k].exception();
      REQUIRE(e);
      INFO(e->what());
      CHECK(e->code() == task_errc::worker_died);
      REQUIRE(e->reason());
      CHECK(e->reason()->kind == exit_kind::signal);
      CHECK(e->reason()->code == signal_of(how));
    }
    // Each successor was started before its predecessor's task was reported failed.
    CHECK(ex.workers_started() == 5);
    CHECK(ex.worker_pids().size() == 2);
    for (auto pid : ex.worker_pids())
      CHECK(alive(pid));
    CHECK(ex.submit(task<square>, 12).result() == 144);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an executor's map yields the results in input order, failed tasks included",
          "[executor][map]") {
  auto chunksize = GENERATE(std::size_t{1}, std::size_t{4});
  INFO("chunksize " << chunksize);
  leftover_guard guard;
  {
    executor ex{2};
    auto inputs = iota(20);
    inputs[6] = -6;
    std::size_t n = 0;
    auto s = ex.map(task<checked_square>, inputs, chunksize);
    for (const auto& item : s) {
      INFO("task " << n);
      CHECK(s.last_index() == n);
      if (n == 6) {
        REQUIRE_FALSE(item);
        CHECK(item.error().code() == task_errc::raised);
      } else {
        REQUIRE(item);
        CHECK(*item == static_cast<std::int32_t>(n * n));
      }
      ++n;
    }
    CHECK(n == 20);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
