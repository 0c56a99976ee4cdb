// When a supervisor restarts a child and when it gives up: restart intensity and period, failed
// restarts, permanent/transient/temporary children, the shutdown specs, and escalation through
// nested supervisors.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace sup_test;
using proctor::exit_kind;
using proctor::restart_type;
using proctor::shutdown_spec;
using proctor::strategy;
using strings = std::vector<std::string>;

namespace {

proctor::child_spec with_restart(proctor::child_spec s, restart_type r) {
  s.restart = r;
  return s;
}

bool has_note(const std::vector<sup_note>& notes, const std::string& event, const std::string& tag) {
  for (auto& n : notes)
    if (n.event == event && n.tag == tag)
      return true;
  return false;
}

} // namespace

// -- intensity and period ------------------------------------------------------------------------

TEST_CASE("more restarts than the intensity within the period stop every child and end the "
          "supervisor with reason shutdown",
          "[supervisor][intensity]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one, 2), {member_spec("a", self.ref()), member_spec("b", self.ref())}},
      {.name = "tired"});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto b = children(sup)["b"].pid;
    auto mon = self.monitor(sup);

    std::int32_t a = 0;
    for (int i = 0; i < 2; ++i) { // two restarts: within the intensity
      a = kill_child(sup, "a", a);
      REQUIRE(a > 0);
      CHECK(story(notes_through(self, "init", "a")) == strings{"init a"});
    }
    a = kill_child(sup, "a", a); // the third within the period is one too many
    REQUIRE(a > 0);

    auto down = wait_down(self, mon);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::shutdown);
    auto reports = take_reports(self, 3);
    REQUIRE(reports.size() == 3);
    for (auto& r : reports) {
      CHECK(r.child_id == "a");
      CHECK(r.reason.kind == exit_kind::signal);
      CHECK(r.reason.code == SIGKILL);
    }
    CHECK(reports[0].action == "restart");
    CHECK(reports[1].action == "restart");
    CHECK_THAT(reports[2].action, Catch::Contains("intensity"));
    // The supervisor stopped its other child on the way out, gracefully.
    auto notes = queued_notes(self);
    CHECK(story(notes) == strings{"exit b"});
    CHECK(gone(a));
    CHECK(gone(b));
    CHECK_FALSE(proctor::which_children(sup, 5s));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("restarts further apart than the period never reach the intensity",
          "[supervisor][intensity]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one, 1, 1000ms), {member_spec("a", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto first = kill_child(sup, "a");
    REQUIRE(first > 0);
    (void)notes_through(self, "init", "a");
    // A lower bound, not an expectation about speed: the first restart leaves the window.
    std::this_thread::sleep_for(1500ms);
    auto second = kill_child(sup, "a", first);
    REQUIRE(second > 0);
    CHECK(story(notes_through(self, "init", "a")) == strings{"init a"});
    CHECK(running_pid(sup, "a", second) > 0);
    auto reports = proctor::crash_reports(sup);
    REQUIRE(reports);
    REQUIRE(reports->size() == 2);
    CHECK((*reports)[0].action == "restart");
    CHECK((*reports)[1].action == "restart");
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a failed restart counts toward the intensity, like a crash", "[supervisor][intensity]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::test::temp_file marker;
    std::filesystem::remove(marker.path()); // f starts while it is absent
    proctor::child_spec f;
    f.id = "f";
    f.start = proctor::child<fragile>(self.ref(), std::string{"f"}, marker.path());
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one, 3), {f, member_spec("m", self.ref())}}, {.name = "fails"});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto mon = self.monitor(sup);

    { std::ofstream{marker.path()} << "fail"; } // from now on f's init throws
    REQUIRE(kill_child(sup, "f") > 0);

    // One crash and three failed restarts: the fourth restart within the period.
    auto down = wait_down(self, mon);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::shutdown);
    auto reports = take_reports(self, 4);
    REQUIRE(reports.size() == 4);
    CHECK(reports[0].action == "restart");
    CHECK(reports[0].reason.kind == exit_kind::signal);
    for (int i = 1; i < 4; ++i) {
      INFO("report " << i << ": " << to_string(reports[i]));
      CHECK(reports[i].child_id == "f");
      CHECK_THAT(to_string(reports[i].reason), Catch::Contains("refusing to start"));
    }
    CHECK_THAT(reports[1].action, Catch::Contains("restart failed"));
    CHECK_THAT(reports[2].action, Catch::Contains("restart failed"));
    CHECK_THAT(reports[3].action, Catch::Contains("intensity"));
    CHECK(story(queued_notes(self)) == strings{"exit m"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- restart types ----------------------------------------------------------------------------

TEST_CASE("a temporary child is never restarted and its spec is dropped when it ends",
          "[supervisor][restart]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {member_spec("p", self.ref()), with_restart(member_spec("t1", self.ref()), restart_type::temporary),
        with_restart(member_spec("t2", self.ref()), restart_type::temporary)}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));

    // Crashed: dropped.
    auto t1 = kill_child(sup, "t1");
    REQUIRE(t1 > 0);
    CHECK(eventually([&] { return child_ids(sup) == strings{"p", "t2"}; }));
    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].child_id == "t1");
    CHECK(reports[0].action == "no restart");
    auto counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 2);
    CHECK(counts->active == 2);

    // Terminated: dropped too (OTP), so it cannot be restarted.
    auto t2 = children(sup)["t2"].pid;
    REQUIRE(proctor::terminate_child(sup, "t2"));
    CHECK(child_ids(sup) == strings{"p"});
    auto again = proctor::restart_child(sup, "t2");
    REQUIRE_FALSE(again);
    CHECK_THAT(again.error().message, Catch::Contains("not_found"));
    counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 1);
    CHECK(counts->active == 1);
    CHECK(counts->workers == 1);

    // A restart of p now comes after anything the supervisor could have scheduled for t1: still
    // no second init of t1 or t2.
    REQUIRE(kill_child(sup, "p") > 0);
    auto notes = notes_through(self, "init", "p");
    CHECK(story(notes) == strings{"exit t2", "init p"});
    CHECK(gone(t1));
    CHECK(gone(t2));
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a transient child is restarted after an exception or a signal, not after a normal "
          "exit or shutdown, and keeps its spec",
          "[supervisor][restart]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto transient = [&](const std::string& id) {
      return with_restart(member_spec(id, self.ref()), restart_type::transient);
    };
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {transient("t-exc"), transient("t-sig"), transient("t-norm"), transient("t-shut"),
        member_spec("p-norm", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto before = children(sup);

    // Normal ends first; then a permanent child's normal end, whose restart is scheduled after
    // anything the supervisor could have scheduled for the transient ones.
    REQUIRE(self.send(before["t-norm"].ref, sup_crash{before["t-norm"].pid, quit_normal, {}}));
    REQUIRE(self.send(before["t-shut"].ref, sup_crash{before["t-shut"].pid, quit_shutdown, {}}));
    CHECK(gone(before["t-norm"].pid));
    CHECK(gone(before["t-shut"].pid));
    CHECK(eventually([&] {
      auto k = children(sup);
      return !k["t-norm"].running && !k["t-shut"].running;
    }));
    REQUIRE(self.send(before["p-norm"].ref, sup_crash{before["p-norm"].pid, quit_normal, {}}));
    auto notes = notes_through(self, "init", "p-norm");
    CHECK(has_note(notes, "exit", "t-norm"));
    CHECK(has_note(notes, "exit", "t-shut"));
    CHECK_FALSE(has_note(notes, "init", "t-norm"));
    CHECK_FALSE(has_note(notes, "init", "t-shut"));
    auto after = children(sup);
    CHECK(after.size() == 5); // specs kept
    CHECK_FALSE(after["t-norm"].running);
    CHECK_FALSE(after["t-shut"].running);
    CHECK(after["t-norm"].restarts == 0);
    CHECK(after["p-norm"].running); // a permanent child comes back even after a normal exit
    CHECK(after["p-norm"].pid != before["p-norm"].pid);

    // Abnormal ends: restarted.
    REQUIRE(self.send(before["t-exc"].ref, sup_crash{before["t-exc"].pid, throw_exception, "boom"}));
    CHECK(story(notes_through(self, "init", "t-exc")) == strings{"exit t-exc", "init t-exc"});
    REQUIRE(self.send(before["t-sig"].ref, sup_crash{before["t-sig"].pid, segfault, "segv"}));
    CHECK(story(notes_through(self, "init", "t-sig")) == strings{"init t-sig"});
    after = children(sup);
    CHECK(after["t-exc"].running);
    CHECK(after["t-exc"].pid != before["t-exc"].pid);
    CHECK(after["t-sig"].running);
    CHECK(after["t-sig"].pid != before["t-sig"].pid);

    // The stopped transient children can still be restarted by hand.
    auto again = proctor::restart_child(sup, "t-norm");
    REQUIRE(again);
    CHECK(*again == before["t-norm"].ref);
    CHECK(running_pid(sup, "t-norm", before["t-norm"].pid) > 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- shutdown ----------------------------------------------------------------------------------

TEST_CASE("shutdown brutal_kill stops a child at once: its on_exit never runs",
          "[supervisor][shutdown]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {with_shutdown(member_spec("brute", self.ref()), shutdown_spec::brutal_kill())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto pid = children(sup)["brute"].pid;
    REQUIRE(proctor::terminate_child(sup, "brute"));
    // terminate_child returns after the child has ended: an exit note would be here by now.
    CHECK(queued_notes(self).empty());
    CHECK(gone(pid));
    auto kid = children(sup)["brute"];
    CHECK_FALSE(kid.running);
    CHECK(kid.pid == 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child that blocks SIGTERM is killed once its shutdown time has passed and never "
          "hangs its supervisor",
          "[supervisor][shutdown]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {member_spec("polite", self.ref()),
        with_shutdown(member_spec("stubborn", self.ref(), block_sigterm), shutdown_spec::after(500ms))}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto pid = children(sup)["stubborn"].pid;

    REQUIRE(proctor::terminate_child(sup, "stubborn"));
    CHECK(gone(pid));
    CHECK(queued_notes(self).empty()); // SIGKILLed: no on_exit
    auto kids = children(sup); // the supervisor still answers
    REQUIRE(kids.size() == 2);
    CHECK_FALSE(kids["stubborn"].running);
    CHECK(kids["polite"].running);

    // Once more, through an ordered stop of the whole tree.
    REQUIRE(proctor::restart_child(sup, "stubborn"));
    pid = running_pid(sup, "stubborn");
    REQUIRE(pid > 0);
    (void)queued_notes(self);
    REQUIRE(proctor::stop_supervisor(sup));
    CHECK(gone(pid));
    CHECK(story(queued_notes(self)) == strings{"exit polite"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("shutdown infinity gives a child all the time its on_exit takes, and a timeout does not",
          "[supervisor][shutdown]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {with_shutdown(member_spec("patient", self.ref(), slow_exit), shutdown_spec::infinity()),
        with_shutdown(member_spec("hasty", self.ref(), slow_exit), shutdown_spec::after(100ms))}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);

    REQUIRE(proctor::terminate_child(sup, "patient"));
    CHECK(story(queued_notes(self), {"exit", "exit-done"})
          == strings{"exit patient", "exit-done patient"});

    // on_exit sleeps 3 s; the supervisor kills the child 100 ms after its SIGTERM.
    REQUIRE(proctor::terminate_child(sup, "hasty"));
    CHECK(story(queued_notes(self), {"exit", "exit-done"}) == strings{"exit hasty"});
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- nested supervisors --------------------------------------------------------------------------

namespace {

proctor::child_spec inner_supervisor(const proctor::actor_ref& observer, std::uint32_t intensity) {
  proctor::supervisor_spec inner{flags(strategy::one_for_one, intensity),
                                 {member_spec("iw", observer)}};
  proctor::child_spec s;
  s.id = "inner";
  s.start = proctor::supervisor_child(inner, "inner");
  s.type = proctor::child_type::supervisor;
  s.shutdown = shutdown_spec::infinity();
  return s;
}

} // namespace

TEST_CASE("an inner supervisor that exceeds its intensity is restarted by the outer one",
          "[supervisor][nested]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto outer = proctor::start_supervisor(
      {flags(strategy::one_for_one, 5), {member_spec("peer", self.ref()), inner_supervisor(self.ref(), 1)}},
      {.name = "outer"});
    stop_at_exit cleanup{outer};
    CHECK(story(queued_notes(self)) == strings{"init peer", "init iw"});
    REQUIRE(proctor::subscribe_crash_reports(outer, self.ref()));
    auto counts = proctor::count_children(outer);
    REQUIRE(counts);
    CHECK(counts->specs == 2);
    CHECK(counts->active == 2);
    CHECK(counts->supervisors == 1);
    CHECK(counts->workers == 1);

    auto before = children(outer);
    auto inner = before["inner"].ref;
    REQUIRE(before["inner"].type == proctor::child_type::supervisor);
    auto iw = kill_child(inner, "iw");
    REQUIRE(iw > 0);
    CHECK(story(notes_through(self, "init", "iw")) == strings{"init iw"}); // the inner restart
    auto iw2 = kill_child(inner, "iw", iw); // the inner supervisor's intensity is 1
    REQUIRE(iw2 > 0);
    CHECK(story(notes_through(self, "init", "iw")) == strings{"init iw"}); // under a new inner

    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].child_id == "inner");
    CHECK(reports[0].reason.kind == exit_kind::shutdown);
    CHECK(reports[0].action == "restart");

    auto after = children(outer);
    CHECK(after["peer"].pid == before["peer"].pid);
    CHECK(after["inner"].pid != before["inner"].pid);
    CHECK(after["inner"].ref == inner); // the outer supervisor's mailbox for it stays
    CHECK(after["inner"].restarts == 1);
    CHECK(gone(before["inner"].pid));
    auto fresh = running_pid(inner, "iw", iw2);
    CHECK(fresh > 0);
    auto inner_reports = proctor::crash_reports(inner);
    REQUIRE(inner_reports);
    CHECK(inner_reports->empty()); // a new incarnation of the inner supervisor
    REQUIRE(proctor::stop_supervisor(outer));
    CHECK(gone(fresh));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("escalation that exceeds the outer supervisor's intensity too ends the whole tree",
          "[supervisor][nested]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto outer = proctor::start_supervisor(
      {flags(strategy::one_for_one, 0), {member_spec("peer", self.ref()), inner_supervisor(self.ref(), 0)}},
      {.name = "outer"});
    stop_at_exit cleanup{outer};
    (void)queued_notes(self);
    auto mon = self.monitor(outer);
    auto before = children(outer);
    auto iw = kill_child(before["inner"].ref, "iw");
    REQUIRE(iw > 0);
    auto down = wait_down(self, mon);
    REQUIRE(down);
    CHECK(down->reason.kind == exit_kind::shutdown);
    CHECK(story(queued_notes(self)) == strings{"exit peer"});
    CHECK(gone(before["peer"].pid));
    CHECK(gone(before["inner"].pid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
