// Warm standbys (child_spec::standby): a second process per child, set up ahead of need, that
// takes over when the running one dies without a word between two messages, and only when the
// supervisor would restart it at once. Every other end is the supervisor's, as without a standby.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "support/leftovers.hpp"

using namespace std::chrono_literals;
using namespace sup_test;
using proctor::exit_kind;
using proctor::strategy;

namespace {

proctor::child_spec standby_spec(const std::string& id, const proctor::actor_ref& observer) {
  auto s = member_spec(id, observer);
  s.standby = true;
  return s;
}

/// Waits until child `id` runs with a standby waiting beside it, other than `not_this` (one
/// that ended, say); returns the child's info (a default one, id empty, if that did not happen
/// in time).
proctor::child_info with_standby(const proctor::actor_ref& sup, const std::string& id,
                                 std::int32_t not_this = 0) {
  proctor::child_info found;
  eventually([&] {
    auto kids = children(sup);
    auto it = kids.find(id);
    if (it == kids.end() || !it->second.running || it->second.standby_pid <= 0
        || it->second.standby_pid == not_this)
      return false;
    found = it->second;
    return true;
  });
  return found;
}

} // namespace

TEST_CASE("a child killed between messages is replaced by its standby: the messages queued for it "
          "are handled, and the restart is counted and reported",
          "[supervisor][standby]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {standby_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto before = with_standby(sup, "w");
    REQUIRE(before.id == "w");
    (void)queued_notes(self);
    REQUIRE(before.standby_pid != before.pid);
    // The standby is a process of its own, not yet the child: it ran no init.
    CHECK(!gone(before.standby_pid, 0s));

    ::kill(before.pid, SIGKILL);
    for (std::int32_t i = 1; i <= 20; ++i)
      REQUIRE(self.send(before.ref, sup_job{i}));
    // The standby ran the actor's init, and handles what was sent to the same ref, in order.
    auto inits = notes_through(self, "init", "w");
    REQUIRE(!inits.empty());
    CHECK(inits.back().pid == before.standby_pid);
    CHECK(take_done(self, 20, before.standby_pid) == range(1, 20));

    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].child_id == "w");
    CHECK(reports[0].pid == before.pid);
    CHECK(reports[0].reason.kind == exit_kind::signal);
    CHECK(reports[0].reason.code == SIGKILL);
    CHECK(reports[0].action == "restarted by its standby");

    // The standby is the child now, and a new standby waits beside it.
    auto after = with_standby(sup, "w", before.standby_pid);
    REQUIRE(after.id == "w");
    CHECK(after.pid == before.standby_pid);
    CHECK(after.restarts == 1);
    CHECK(after.standby_pid != before.standby_pid);
    CHECK(gone(before.pid));
    CHECK(self.request<std::int32_t>(after.ref, patience, sup_pid_query{}).value() == after.pid);

    // An exit signal `kill` ends it as SIGKILL does; the report says killed.
    self.send_exit(after.ref, proctor::exit_reason::kill());
    auto killed = take_reports(self, 1);
    REQUIRE(killed.size() == 1);
    CHECK(killed[0].pid == after.pid);
    CHECK(killed[0].reason.kind == exit_kind::killed);
    CHECK(killed[0].action == "restarted by its standby");
    auto third = with_standby(sup, "w", after.standby_pid);
    REQUIRE(third.id == "w");
    CHECK(third.pid == after.standby_pid);
    CHECK(third.restarts == 2);

    REQUIRE(proctor::stop_supervisor(sup, patience));
    CHECK(gone(third.pid));
    CHECK(gone(third.standby_pid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child that ends on its own, or crashes in a handler, is restarted by its supervisor, "
          "not by its standby, which is replaced",
          "[supervisor][standby]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {standby_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto how = GENERATE(throw_exception, segfault, quit_normal);
    INFO("how " << how);
    auto before = with_standby(sup, "w");
    REQUIRE(before.id == "w");
    REQUIRE(self.send(before.ref, sup_crash{before.pid, how, "on purpose"}));

    REQUIRE(running_pid(sup, "w", before.pid) > 0);
    auto after = with_standby(sup, "w", before.standby_pid);
    REQUIRE(after.id == "w");
    CHECK(after.pid != before.pid);
    CHECK(after.pid != before.standby_pid); // a new process: the standby did not take over
    CHECK(after.standby_pid != before.standby_pid);
    CHECK(gone(before.standby_pid));
    CHECK(after.restarts == 1);
    if (how != quit_normal) { // a permanent child's normal end is restarted without a report
      auto reports = take_reports(self, 1);
      REQUIRE(reports.size() == 1);
      CHECK(reports[0].action == "restart");
    }
    CHECK(self.request<std::int32_t>(after.ref, patience, sup_pid_query{}).value() == after.pid);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a standby does not take over where its supervisor would not restart at once",
          "[supervisor][standby]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    // Where no standby could ever take over (siblings restart with it, a backoff, a child that
    // is not permanent), none is started; the restart is the supervisor's, in order.
    auto no_standby = [](const proctor::actor_ref& sup, const std::string& id) {
      return children(sup)[id].standby_pid == 0;
    };

    SECTION("one_for_all: the siblings stop and start again, in order, by the supervisor") {
      auto sup = proctor::start_supervisor(
        {flags(strategy::one_for_all), {standby_spec("a", self.ref()), standby_spec("b", self.ref())}});
      stop_at_exit cleanup{sup};
      REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
      auto a = running_pid(sup, "a");
      REQUIRE(a > 0);
      (void)queued_notes(self);
      ::kill(a, SIGKILL);
      auto notes = notes_through(self, "init", "b");
      CHECK(story(notes, {"init"}) == std::vector<std::string>{"init a", "init b"});
      auto reports = take_reports(self, 1);
      REQUIRE(reports.size() == 1);
      CHECK(reports[0].action == "restart");
      CHECK(no_standby(sup, "a"));
      CHECK(no_standby(sup, "b"));
    }

    SECTION("backoff: the restart waits, so it is the supervisor's") {
      auto f = flags(strategy::one_for_one);
      f.backoff_initial = 50ms;
      auto sup = proctor::start_supervisor({f, {standby_spec("w", self.ref())}});
      stop_at_exit cleanup{sup};
      REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
      auto w = running_pid(sup, "w");
      REQUIRE(w > 0);
      ::kill(w, SIGKILL);
      auto reports = take_reports(self, 1);
      REQUIRE(reports.size() == 1);
      CHECK_THAT(reports[0].action, Catch::StartsWith("restart in "));
      CHECK(running_pid(sup, "w", w) > 0);
      CHECK(no_standby(sup, "w"));
    }

    SECTION("transient: an exit the standby cannot tell from a crash is the supervisor's to judge") {
      auto spec = standby_spec("w", self.ref());
      spec.restart = proctor::restart_type::transient;
      auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {spec}});
      stop_at_exit cleanup{sup};
      auto w = running_pid(sup, "w");
      REQUIRE(w > 0);
      CHECK(no_standby(sup, "w"));
    }

    SECTION("intensity: the restart that would exceed it ends the tree instead") {
      // Room for one restart: the standby takes the first kill; the second stops everything.
      auto sup = proctor::start_supervisor({flags(strategy::one_for_one, 1), {standby_spec("w", self.ref())}});
      stop_at_exit cleanup{sup};
      auto mon = self.monitor(sup);
      auto w = with_standby(sup, "w");
      REQUIRE(!w.id.empty());
      ::kill(w.pid, SIGKILL);
      REQUIRE(running_pid(sup, "w", w.pid) > 0);
      auto w2 = with_standby(sup, "w", w.standby_pid);
      REQUIRE(!w2.id.empty());
      CHECK(w2.pid == w.standby_pid);
      ::kill(w2.pid, SIGKILL);
      auto down = wait_down(self, mon);
      REQUIRE(down);
      CHECK(down->reason.kind == exit_kind::shutdown);
      CHECK(gone(w2.standby_pid));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a standby killed while it waits is replaced, and the child's next death is restarted "
          "as usual",
          "[supervisor][standby]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {standby_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    auto w = with_standby(sup, "w");
    REQUIRE(!w.id.empty());
    ::kill(w.standby_pid, SIGKILL);
    REQUIRE(gone(w.standby_pid));
    // Seen gone: a new one waits beside the child.
    auto replaced = with_standby(sup, "w", w.standby_pid);
    REQUIRE(!replaced.id.empty());
    CHECK(replaced.standby_pid != w.standby_pid);
    CHECK(replaced.pid == w.pid);
    CHECK(replaced.restarts == 0);
    ::kill(replaced.standby_pid, SIGKILL);
    REQUIRE(gone(replaced.standby_pid));
    // The child dies while its standby is gone, before the supervisor saw that: a restart as usual.
    ::kill(w.pid, SIGKILL);
    REQUIRE(running_pid(sup, "w", w.pid) > 0);
    auto w2 = with_standby(sup, "w", replaced.standby_pid);
    REQUIRE(!w2.id.empty());
    CHECK(w2.pid != w.pid);
    CHECK(w2.pid != w.standby_pid);
    CHECK(w2.pid != replaced.standby_pid);
    CHECK(w2.restarts == 1);
    CHECK(self.request<std::int32_t>(w2.ref, patience, sup_pid_query{}).value() == w2.pid);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("terminate_child and restart_child end a child's standby with it, and start a new one",
          "[supervisor][standby]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {standby_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    auto w = with_standby(sup, "w");
    REQUIRE(!w.id.empty());
    REQUIRE(proctor::terminate_child(sup, "w"));
    CHECK(gone(w.pid));
    CHECK(gone(w.standby_pid));
    auto stopped = children(sup)["w"];
    CHECK(!stopped.running);
    CHECK(stopped.standby_pid == 0);
    REQUIRE(proctor::restart_child(sup, "w"));
    auto w2 = with_standby(sup, "w", w.standby_pid);
    REQUIRE(!w2.id.empty());
    CHECK(w2.pid != w.pid);
    CHECK(w2.standby_pid != w.standby_pid);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
