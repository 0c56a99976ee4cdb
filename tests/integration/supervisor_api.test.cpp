// The supervisor API of OTP: start_child, terminate_child, restart_child, delete_child,
// which_children, count_children, and the errors each of them answers with.

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "mailbox.hpp"
#include "integration/ring_lock_holder.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace sup_test;
using proctor::actor_errc;
using proctor::strategy;
using strings = std::vector<std::string>;

namespace {

/// Checks that `result` failed with handler_error whose message names `what` ("not_found", ...).
template <class Result>
void check_refused(const Result& result, const std::string& what) {
  REQUIRE_FALSE(result);
  INFO(to_string(result.error()));
  CHECK(result.error().code == actor_errc::handler_error);
  CHECK_THAT(result.error().message, Catch::Contains(what));
}

/// A process that takes `target`'s mailbox lock and never lets go (see ring_lock_holder).
proctor::test::ring_lock_holder hold_mailbox_lock(const proctor::actor_ref& target) {
  return proctor::test::ring_lock_holder{proctor::detail::link_of(target)->messages().handle()};
}

} // namespace

TEST_CASE("start_child adds a running child after the others and refuses an id already present",
          "[supervisor][api]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {member_spec("a", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);

    auto b = proctor::start_child(sup, member_spec("b", self.ref()));
    REQUIRE(b);
    // start_child returns once the child is ready: its init note is here.
    CHECK(story(queued_notes(self)) == strings{"init b"});
    CHECK(child_ids(sup) == strings{"a", "b"});
    auto kids = children(sup);
    CHECK(kids["b"].ref == *b);
    CHECK(kids["b"].running);
    CHECK(self.request<std::int32_t>(*b, patience, sup_pid_query{}).value() == kids["b"].pid);

    check_refused(proctor::start_child(sup, member_spec("a", self.ref())), "already_present");

    // A child that cannot start is not added.
    proctor::test::temp_file marker;
    { std::ofstream{marker.path()} << "fail"; }
    proctor::child_spec bad;
    bad.id = "c";
    bad.start = proctor::child<fragile>(self.ref(), std::string{"c"}, marker.path());
    auto c = proctor::start_child(sup, bad);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == actor_errc::spawn_failed);
    CHECK_THAT(to_string(c.error()), Catch::Contains("refusing to start"));
    CHECK(child_ids(sup) == strings{"a", "b"});
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("terminate_child stops a child but keeps its spec, and restart_child starts it again on "
          "the same ref with the messages sent meanwhile",
          "[supervisor][api]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one), {member_spec("a", self.ref()), member_spec("b", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto before = children(sup);

    REQUIRE(proctor::terminate_child(sup, "a"));
    auto notes = queued_notes(self);
    CHECK(story(notes) == strings{"exit a"});
    REQUIRE(notes.size() == 1);
    CHECK_THAT(notes[0].detail, Catch::StartsWith("shutdown"));
    CHECK(gone(before["a"].pid));
    auto kids = children(sup);
    CHECK(kids.size() == 2);
    CHECK_FALSE(kids["a"].running);
    CHECK(kids["a"].pid == 0);
    auto counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 2);
    CHECK(counts->active == 1);
    REQUIRE(proctor::terminate_child(sup, "a")); // already stopped: still ok (OTP)

    // The mailbox stays: what is sent now waits for the next incarnation.
    for (std::int32_t i = 1; i <= 3; ++i)
      REQUIRE(self.send(before["a"].ref, sup_job{i}));

    check_refused(proctor::restart_child(sup, "b"), "running");
    check_refused(proctor::restart_child(sup, "nope"), "not_found");
    check_refused(proctor::terminate_child(sup, "nope"), "not_found");

    auto again = proctor::restart_child(sup, "a");
    REQUIRE(again);
    CHECK(*again == before["a"].ref);
    auto pid = running_pid(sup, "a");
    CHECK(pid != before["a"].pid);
    std::vector<std::int32_t> done;
    for (int i = 0; i < 3; ++i)
      REQUIRE(self.receive(patience, [&](const sup_done& d) {
        done.push_back(d.id);
        CHECK(d.pid == pid);
      }));
    CHECK(done == std::vector<std::int32_t>{1, 2, 3});
    CHECK(children(sup)["b"].pid == before["b"].pid);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("delete_child removes a stopped child's spec and refuses a running or unknown one",
          "[supervisor][api]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one), {member_spec("a", self.ref()), member_spec("b", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto old_a = children(sup)["a"].ref;

    check_refused(proctor::delete_child(sup, "a"), "running");
    check_refused(proctor::delete_child(sup, "nope"), "not_found");
    REQUIRE(proctor::terminate_child(sup, "a"));
    REQUIRE(proctor::delete_child(sup, "a"));
    CHECK(child_ids(sup) == strings{"b"});
    check_refused(proctor::delete_child(sup, "a"), "not_found");
    check_refused(proctor::restart_child(sup, "a"), "not_found");
    check_refused(proctor::terminate_child(sup, "a"), "not_found");
    auto counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 1);

    // Its mailbox is gone for good; the id is free again.
    auto sent = self.send(old_a, sup_job{1});
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code == actor_errc::noproc);
    auto a = proctor::start_child(sup, member_spec("a", self.ref()));
    REQUIRE(a);
    CHECK(*a != old_a);
    CHECK(child_ids(sup) == strings{"b", "a"});
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a process stopped while it holds a child's mailbox lock does not stop the supervisor "
          "from deleting that child",
          "[supervisor][api][hostile]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one), {member_spec("a", self.ref()), member_spec("b", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto a = children(sup)["a"].ref;
    REQUIRE(self.send(a, sup_job{1})); // handled: the mailbox is in use, not fresh
    REQUIRE(self.receive(patience, [](const sup_done& d) { CHECK(d.id == 1); }));
    REQUIRE(proctor::terminate_child(sup, "a"));

    auto holder = hold_mailbox_lock(a);
    REQUIRE(holder.locked());

    // Deleting a closes its mailbox for good: the supervisor goes on, and so does b.
    REQUIRE(proctor::delete_child(sup, "a", 10s));
    CHECK(child_ids(sup) == strings{"b"});
    auto sent = self.send(a, sup_job{2});
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code == actor_errc::noproc);
    REQUIRE(self.send(children(sup)["b"].ref, sup_job{3}));
    REQUIRE(self.receive(patience, [](const sup_done& d) { CHECK(d.id == 3); }));
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child whose mailbox lock a stopped process holds still stops in order, and handles "
          "each message once when the lock is free again",
          "[supervisor][api][hostile]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one), {member_spec("a", self.ref()), member_spec("b", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto a = children(sup)["a"].ref;
    auto next_done = [&self] {
      std::int32_t id = -1;
      REQUIRE(self.receive(patience, [&](const sup_done& d) { id = d.id; }));
      return id;
    };

    // a handles job 1, slowly; the lock is taken meanwhile, so a cannot remove job 1 from its
    // mailbox when it is done, nor take job 2.
    REQUIRE(self.send(a, sup_slow_job{1, 2000}));
    REQUIRE(self.send(a, sup_job{2}));
    auto mailbox = proctor::detail::link_of(a);
    REQUIRE(mailbox);
    auto& cell = mailbox->cell();
    REQUIRE(eventually([&] { return cell.in_flight_pos.load() != 0; }));
    auto holder = hold_mailbox_lock(a);
    REQUIRE(holder.locked());
    // Taken before job 1 was removed (still being handled, or handled and waiting for the lock).
    REQUIRE((cell.in_flight_pos.load() != 0 || cell.handled_pos.load() != 0));
    CHECK(next_done() == 1);

    SECTION("an ordered stop still reaches it") {
      // Stuck waiting for the lock, a would miss its SIGTERM and be killed at its deadline,
      // without its on_exit.
      REQUIRE(proctor::terminate_child(sup, "a"));
      auto notes = queued_notes(self);
      CHECK(story(notes) == strings{"exit a"});
      REQUIRE(notes.size() == 1);
      CHECK_THAT(notes[0].detail, Catch::StartsWith("shutdown"));
    }
    SECTION("once the lock is free, job 1 is not handled again") {
      std::this_thread::sleep_for(100ms); // a tries to remove job 1 meanwhile
      holder.let_go();
      CHECK(next_done() == 2);
      REQUIRE(self.send(a, sup_job{3}));
      CHECK(next_done() == 3);
    }
    SECTION("nor by the next incarnation, after a crash while the lock is held") {
      REQUIRE(eventually([&] { return cell.handled_pos.load() != 0; }));
      auto before = children(sup)["a"];
      REQUIRE(::kill(before.pid, SIGKILL) == 0);
      REQUIRE(eventually([&] {
        auto now = children(sup)["a"];
        return now.running && now.pid != 0 && now.pid != before.pid;
      }));
      holder.let_go();
      CHECK(next_done() == 2);
      REQUIRE(self.send(a, sup_job{3}));
      CHECK(next_done() == 3);
      // Job 1 was handled: no crash is counted against it.
      auto reports = proctor::crash_reports(sup);
      REQUIRE(reports);
      REQUIRE_FALSE(reports->empty());
      CHECK(reports->back().in_flight.empty());
    }
    holder.let_go();
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("which_children and count_children describe every child: id, ref, pid, type, state and "
          "restarts",
          "[supervisor][api]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::child_spec inner;
    inner.id = "inner";
    inner.start = proctor::supervisor_child({flags(strategy::one_for_one), {member_spec("iw", self.ref())}},
                                            "inner");
    inner.type = proctor::child_type::supervisor;
    inner.shutdown = proctor::shutdown_spec::infinity();
    auto sup = proctor::start_supervisor(
      {flags(strategy::one_for_one),
       {member_spec("a", self.ref()), inner, member_spec("b", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);

    auto kids = proctor::which_children(sup);
    REQUIRE(kids);
    REQUIRE(kids->size() == 3);
    CHECK((*kids)[0].id == "a");
    CHECK((*kids)[1].id == "inner");
    CHECK((*kids)[2].id == "b");
    CHECK((*kids)[1].type == proctor::child_type::supervisor);
    CHECK((*kids)[0].type == proctor::child_type::worker);
    for (auto& c : *kids) {
      INFO(c.id);
      CHECK(c.running);
      CHECK(c.pid > 0);
      CHECK(c.restarts == 0);
      CHECK(c.ref);
    }
    CHECK(self.request<std::int32_t>((*kids)[0].ref, patience, sup_pid_query{}).value() == (*kids)[0].pid);

    auto b = kill_child(sup, "b");
    REQUIRE(b > 0);
    CHECK(running_pid(sup, "b", b) > 0);
    REQUIRE(proctor::terminate_child(sup, "a"));
    auto after = children(sup);
    CHECK(after["b"].restarts == 1);
    CHECK(after["b"].ref == (*kids)[2].ref);
    auto counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 3);
    CHECK(counts->active == 2);
    CHECK(counts->supervisors == 1);
    CHECK(counts->workers == 2);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
