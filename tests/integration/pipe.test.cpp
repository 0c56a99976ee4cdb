#include <catch2/catch.hpp>

#include <chrono>
#include <signal.h>

#include <string>

#include <proctor/pipe.hpp>
#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::connection;
using proctor::entry;
using proctor::queue_errc;

namespace {

/// Answers every message with "echo:" + message until end of file.
void echo(connection<std::string> c) {
  for (;;) {
    auto m = c.recv(60s);
    if (!m)
      proctor::exit(m.error() == queue_errc::closed ? 0 : 7);
    if (!c.send("echo:" + *m))
      proctor::exit(8);
  }
}

/// Sends one message and dies without closing its end.
void send_and_die(connection<std::string> c) {
  c.send("last words");
  probe_raise(SIGKILL);
}

} // namespace

TEST_CASE("a duplex pipe keeps message boundaries, empty messages included", "[pipe]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto [mine, theirs] = proctor::pipe<std::string>();
    auto child = proctor::get_context(m).make_process(entry<echo>, theirs);
    child.start();
    theirs.close(); // as in Python: the parent drops the child's end
    for (const std::string& msg : {std::string{}, std::string{"a"}, std::string(5000, 'z'), std::string{}}) {
      REQUIRE(mine.send(msg));
      auto back = mine.recv(60s);
      REQUIRE(back);
      CHECK(*back == "echo:" + msg);
    }
    CHECK_FALSE(mine.poll());
    mine.close(); // the child reads end of file and exits 0
    child.join();
    CHECK(child.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pipe reads end of file after the messages of a peer that died", "[pipe]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto [mine, theirs] = proctor::pipe<std::string>();
    auto child = proctor::get_context(m).make_process(entry<send_and_die>, theirs);
    child.start();
    theirs.close();
    auto first = mine.recv(60s);
    REQUIRE(first);
    CHECK(*first == "last words");
    auto eof = mine.recv(60s);
    REQUIRE_FALSE(eof);
    CHECK(eof.error() == queue_errc::closed);
    CHECK(mine.poll()); // end of file counts as readable
    CHECK(mine.send("anyone?").error() == queue_errc::closed);
    child.join();
    CHECK(child.exitcode() == -SIGKILL);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a one-way pipe has a receiving and a sending end", "[pipe]") {
  leftover_guard guard;
  {
    auto [reader, writer] = proctor::pipe<int>(false);
    CHECK(reader.readable());
    CHECK_FALSE(reader.writable());
    CHECK(writer.writable());
    CHECK_FALSE(writer.readable());
    REQUIRE(writer.send(42));
    CHECK(*reader.recv(1s) == 42);
    CHECK(reader.recv(10ms).error() == queue_errc::empty);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

namespace {

/// Python's idiom in the child: drop the other end, then read until end of file.
void close_other_then_read(connection<std::string> other, connection<std::string> mine) {
  other.close();
  auto got = mine.recv(60s);
  proctor::exit(!got && got.error() == queue_errc::closed ? 0 : 1);
}

} // namespace

TEST_CASE("ends closed by the child and then by the parent read as end of file", "[pipe]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  for (int i = 0; i < 10; ++i) {
    auto [a, b] = proctor::pipe<std::string>();
    auto child = proctor::get_context(m).make_process(entry<close_other_then_read>, a, b);
    child.start();
    b.close();
    a.close();
    child.join();
    REQUIRE(child.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
