#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>
#include <proctor/wait.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::connection;
using proctor::entry;
using proctor::queue_errc;
using proctor::waitable;
using ready_list = std::vector<std::size_t>;

namespace {

/// Sends `value` a moment after it starts (the parent is waiting by then), then waits for the
/// parent's word before it leaves, so that only the message makes its end ready.
void send_later(connection<int> c, int value) {
  std::this_thread::sleep_for(200ms);
  if (!c.send(value))
    proctor::exit(2);
  auto bye = c.recv(60s);
  proctor::exit(bye ? 0 : 3);
}

/// Holds its end without a word, and is killed.
void hold_and_die(connection<int> c) {
  (void)c;
  std::this_thread::sleep_for(200ms);
  probe_raise(SIGKILL);
}

void quick_exit_with(int code) { proctor::exit(code); }

/// Puts `value` a moment after it starts (the parent is waiting by then).
void put_later(proctor::queue<int> q, int value) {
  std::this_thread::sleep_for(200ms);
  proctor::exit(q.put(value) ? 0 : 2);
}

} // namespace

TEST_CASE("wait returns, in order, the connections that have a message or end of file", "[wait]") {
  leftover_guard guard;
  {
    auto [a1, b1] = proctor::pipe<int>();
    auto [a2, b2] = proctor::pipe<int>();
    auto [a3, b3] = proctor::pipe<int>();
    CHECK(proctor::wait({a1, a2, a3}, 0s).empty());
    REQUIRE(b3.send(3));
    CHECK(proctor::wait({a1, a2, a3}, 0s) == ready_list{2});
    b1.close(); // end of file on a1, the only holder having let go
    CHECK(proctor::wait({a1, a2, a3}, 0s) == ready_list{0, 2});
    CHECK(proctor::wait({a3, a2, a1}, 0s) == ready_list{0, 2});
    // Ready means that recv() does not wait; the message is still there to take.
    CHECK(*a3.recv(0s) == 3);
    CHECK(a1.recv(0s).error() == queue_errc::closed);
    CHECK(proctor::wait({a1, a2, a3}, 0s) == ready_list{0});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("wait sleeps until another process sends on one of the connections", "[wait]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto [quiet, quiet_peer] = proctor::pipe<int>();
    auto [busy, busy_peer] = proctor::pipe<int>();
    auto child = proctor::get_context(m).make_process(entry<send_later>, busy_peer, 41);
    child.start();
    busy_peer.close();
    auto ready = proctor::wait({quiet, busy}, 60s);
    CHECK(ready == ready_list{1});
    CHECK(*busy.recv(0s) == 41);
    REQUIRE(busy.send(0));
    child.join();
    CHECK(child.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("wait reads a peer that died without closing its end as ready", "[wait]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto [mine, theirs] = proctor::pipe<int>();
    auto child = proctor::get_context(m).make_process(entry<hold_and_die>, theirs);
    child.start();
    theirs.close();
    CHECK(proctor::wait({mine}, 60s) == ready_list{0});
    CHECK(mine.recv(0s).error() == queue_errc::closed);
    child.join();
    CHECK(child.exitcode() == -SIGKILL);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("wait returns a process once it has ended, alone or beside connections", "[wait]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto [a, b] = proctor::pipe<int>(); // both ends stay here: never ready by themselves
    auto first = proctor::get_context(m).make_process(entry<quick_exit_with>, 4);
    first.start();
    CHECK(proctor::wait({a, first}, 60s) == ready_list{1});
    auto second = proctor::get_context(m).make_process(entry<quick_exit_with>, 5);
    second.start();
    CHECK(proctor::wait({second}, 60s) == ready_list{0});
    first.join();
    second.join();
    CHECK(first.exitcode() == 4);
    CHECK(second.exitcode() == 5);
    // A message and an ended process at once: both. (A forkserver child's sentinel is the
    // channel of the zygote's report, which join() read: it reads as ready again once the zygote
    // closed it, a moment after the report.)
    CHECK(proctor::wait({second}, 60s) == ready_list{0});
    REQUIRE(b.send(1));
    CHECK(proctor::wait({second, a}, 0s) == ready_list{0, 1});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("wait returns a queue once an item is in it or it is closed", "[wait]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    proctor::queue<int> q;
    auto [a, b] = proctor::pipe<int>();
    CHECK(proctor::wait({q, a}, 0s).empty());
    auto child = proctor::get_context(m).make_process(entry<put_later>, q, 9);
    child.start();
    CHECK(proctor::wait({a, q}, 60s) == ready_list{1});
    CHECK(*q.get_nowait() == 9);
    child.join();
    CHECK(child.exitcode() == 0);
    CHECK(proctor::wait({q}, 0s).empty());
    q.close(); // closed and drained: get() does not wait, it says `closed`
    CHECK(proctor::wait({q}, 0s) == ready_list{0});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("wait on a descriptor returns when it is readable", "[wait]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto [a, b] = proctor::pipe<int>();
  auto fd = waitable::descriptor(fds[0]);
  CHECK(proctor::wait({fd}, 0s).empty());
  CHECK(proctor::wait({a, fd}, 0s).empty());
  char byte = 'x';
  REQUIRE(::write(fds[1], &byte, 1) == 1);
  CHECK(proctor::wait({fd}, 60s) == ready_list{0});
  CHECK(proctor::wait({a, fd}, 60s) == ready_list{1});
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("wait with nothing ready returns nothing once its timeout passed", "[wait]") {
  auto [a, b] = proctor::pipe<int>();
  CHECK(proctor::wait({a}, 50ms).empty());
  CHECK(proctor::wait({a}, -1s).empty()); // a timeout already past only looks
  CHECK(proctor::wait(std::span<const waitable>{}, 20ms).empty()); // nothing: sleeps it out
}

TEST_CASE("wait refuses what it cannot wait for, with a clear error", "[wait]") {
  auto [reader, writer] = proctor::pipe<int>(false);
  CHECK_THROWS_WITH(waitable{writer}, Catch::Contains("cannot receive"));
  auto [a, b] = proctor::pipe<int>();
  a.close();
  CHECK_THROWS_WITH(waitable{a}, Catch::Contains("cannot receive"));
  CHECK_THROWS_WITH(waitable::descriptor(-1), Catch::Contains("negative file descriptor"));
  CHECK_THROWS_WITH(proctor::wait(std::span<const waitable>{}), Catch::Contains("never return"));
  std::vector<waitable> many(129, waitable{reader});
  CHECK_THROWS_WITH(proctor::wait(many, 0s), Catch::Contains("more than 128 connections"));
  proctor::process never_started{entry<quick_exit_with>, 0};
  CHECK_THROWS_AS(waitable{never_started}, proctor::process_error);
}
