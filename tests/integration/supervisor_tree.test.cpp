// A supervision tree as a tree of processes: stopping a child stops everything it started, and a
// supervisor killed with SIGKILL takes every descendant with it.

#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdint>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "support/leftovers.hpp"

using namespace sup_test;
using proctor::exit_kind;
using proctor::strategy;

namespace {

/// The grandchild pid a member reported in its "init" note.
std::int32_t grandchild_of(const std::vector<sup_note>& notes, const std::string& tag) {
  for (auto& n : notes)
    if (n.event == "init" && n.tag == tag)
      return static_cast<std::int32_t>(std::stol(n.detail));
  return 0;
}

} // namespace

TEST_CASE("terminate_child stops the child's whole subtree", "[supervisor][tree]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {member_spec("forks", self.ref(), fork_grandchild),
        member_spec("spawns", self.ref(), process_grandchild)}});
    stop_at_exit cleanup{sup};
    auto notes = queued_notes(self);
    auto forked = grandchild_of(notes, "forks");
    auto started = grandchild_of(notes, "spawns");
    REQUIRE(forked > 0);
    REQUIRE(started > 0);
    CHECK_FALSE(proctor::test::is_dead(forked));
    CHECK_FALSE(proctor::test::is_dead(started));

    auto kids = children(sup);
    REQUIRE(proctor::terminate_child(sup, "forks"));
    CHECK(gone(kids["forks"].pid));
    CHECK(gone(forked)); // a plain fork() of the child: in its process group
    REQUIRE(proctor::terminate_child(sup, "spawns"));
    CHECK(gone(kids["spawns"].pid));
    CHECK(gone(started)); // a proctor::process of the child: its parent-death signal

    // The same after a restart, by an ordered stop of the whole tree.
    REQUIRE(proctor::restart_child(sup, "forks"));
    REQUIRE(proctor::restart_child(sup, "spawns"));
    notes = queued_notes(self);
    forked = grandchild_of(notes, "forks");
    started = grandchild_of(notes, "spawns");
    REQUIRE(forked > 0);
    REQUIRE(started > 0);
    REQUIRE(proctor::stop_supervisor(sup));
    CHECK(gone(forked));
    CHECK(gone(started));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("SIGKILL of a supervisor leaves no descendant alive", "[supervisor][tree]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::child_spec inner;
    inner.id = "inner";
    inner.start = proctor::supervisor_child(
      {flags(strategy::one_for_one), {member_spec("i1", self.ref()), member_spec("i2", self.ref())}},
      "inner");
    inner.type = proctor::child_type::supervisor;
    inner.shutdown = proctor::shutdown_spec::infinity();
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {member_spec("a", self.ref()), member_spec("b", self.ref(), process_grandchild), inner}},
      {.name = "doomed-root"});
    stop_at_exit cleanup{sup};
    auto notes = queued_notes(self);
    CHECK(story(notes) == std::vector<std::string>{"init a", "init b", "init i1", "init i2"});

    // Root, a, b, b's grandchild, inner, i1, i2.
    auto family = proctor::test::descendants();
    INFO(proctor::test::describe(family));
    REQUIRE(family.size() >= 7);

    auto mon = self.monitor(sup);
    self.send_exit(sup, {exit_kind::killed, 0, false, "test"}); // SIGKILL
    auto down = wait_down(self, mon);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::killed);
    for (auto pid : family) {
      INFO("pid " << pid);
      CHECK(gone(pid, std::chrono::seconds{5}));
    }
    // Nobody was left to unlink the mailboxes the root owned: the next start sweeps them.
    proctor::sweep_stale_segments();
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("what a child forked into a session of its own outlives the child but not the supervisor",
          "[supervisor][tree]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one), {member_spec("escapes", self.ref(), session_grandchild)}});
    stop_at_exit cleanup{sup};
    auto escaped = grandchild_of(queued_notes(self), "escapes");
    REQUIRE(escaped > 0);
    auto kids = children(sup);
    REQUIRE(::kill(kids["escapes"].pid, SIGKILL) == 0);
    REQUIRE(gone(kids["escapes"].pid));
    // Orphaned, adopted by the supervisor (a subreaper), and running.
    CHECK_FALSE(proctor::test::is_dead(escaped));
    REQUIRE(proctor::stop_supervisor(sup));
    CHECK(gone(escaped));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
