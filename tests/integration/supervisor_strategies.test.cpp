// OTP's restart strategies, start order and stop order, seen from the children: each member of a
// tree tells the test about its init and its on_exit, so the order of those notes is the order in
// which the supervisor started and stopped them; pids tell which children were replaced.

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "support/leftovers.hpp"

using namespace sup_test;
using proctor::strategy;
using strings = std::vector<std::string>;

namespace {

/// Crashes child `id` of `sup` with an exception (only its current incarnation) and returns the
/// notes up to the init of `last`, the last child the strategy restarts.
std::vector<sup_note> crash_and_wait(proctor::scoped_actor& self, const proctor::actor_ref& sup,
                                     const std::string& id, const std::string& last) {
  auto kids = children(sup);
  REQUIRE(kids.count(id) == 1);
  REQUIRE(self.send(kids[id].ref, sup_crash{kids[id].pid, throw_exception, "crash of " + id}));
  return notes_through(self, "init", last);
}

proctor::supervisor_spec four_members(strategy how, const proctor::actor_ref& observer) {
  return {flags(how),
          {member_spec("a", observer), member_spec("b", observer), member_spec("c", observer),
           member_spec("d", observer)}};
}

} // namespace

TEST_CASE("children start in spec order, each only after the one before it is ready",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    // Each init takes a while: a supervisor that did not wait for one child's init before
    // starting the next would interleave the notes.
    proctor::supervisor_spec spec{flags(strategy::one_for_one),
                                  {member_spec("a", self.ref(), slow_init),
                                   member_spec("b", self.ref(), slow_init),
                                   member_spec("c", self.ref(), slow_init)}};
    auto sup = proctor::start_supervisor(spec, {.name = "order"});
    stop_at_exit cleanup{sup};
    // start_supervisor returns once every child is ready, so every note is here already.
    auto notes = queued_notes(self);
    CHECK(story(notes, {"init-begin", "init"})
          == strings{"init-begin a", "init a", "init-begin b", "init b", "init-begin c", "init c"});
    CHECK(child_ids(sup) == strings{"a", "b", "c"});
    for (auto& [id, c] : children(sup)) {
      CHECK(c.running);
      CHECK(c.pid > 0);
    }
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a stopping supervisor stops its children in reverse order, each with reason shutdown",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(four_members(strategy::one_for_one, self.ref()));
    stop_at_exit cleanup{sup};
    auto before = pids(sup);
    (void)queued_notes(self);
    REQUIRE(proctor::stop_supervisor(sup));
    // stop_supervisor returns once the supervisor has ended, after its children.
    auto notes = queued_notes(self);
    CHECK(story(notes) == strings{"exit d", "exit c", "exit b", "exit a"});
    for (auto& n : notes)
      CHECK_THAT(n.detail, Catch::StartsWith("shutdown"));
    for (auto& [id, pid] : before)
      CHECK(gone(pid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a stopping supervisor stops a child only after the one after it has finished its on_exit",
          "[supervisor][strategy]") {
  // With its stderr its own, b closes its supervisor's pipe long before it ends.
  auto b_flags = GENERATE(std::int32_t{slow_exit}, std::int32_t{slow_exit | own_stderr});
  INFO("b's flags " << b_flags);
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    // b's on_exit takes seconds: a supervisor that went on to a before b had finished would let
    // a's exit note in between b's two.
    proctor::supervisor_spec spec{
      flags(strategy::one_for_one),
      {member_spec("a", self.ref()),
       with_shutdown(member_spec("b", self.ref(), b_flags), proctor::shutdown_spec::infinity())}};
    auto sup = proctor::start_supervisor(spec, {.name = "patient-order"});
    stop_at_exit cleanup{sup};
    auto before = pids(sup);
    (void)queued_notes(self);
    REQUIRE(proctor::stop_supervisor(sup));
    CHECK(story(queued_notes(self), {"exit", "exit-done"})
          == strings{"exit b", "exit-done b", "exit a"});
    for (auto& [id, pid] : before)
      CHECK(gone(pid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("one_for_one restarts only the child that crashed", "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(four_members(strategy::one_for_one, self.ref()));
    stop_at_exit cleanup{sup};
    auto before = children(sup);
    (void)queued_notes(self);

    auto notes = crash_and_wait(self, sup, "b", "b");
    CHECK(story(notes) == strings{"exit b", "init b"});
    REQUIRE(!notes.empty());
    CHECK_THAT(notes.front().detail, Catch::Contains("crash of b"));

    auto after = children(sup);
    CHECK(after["a"].pid == before["a"].pid);
    CHECK(after["b"].pid != before["b"].pid);
    CHECK(after["c"].pid == before["c"].pid);
    CHECK(after["d"].pid == before["d"].pid);
    CHECK(after["b"].restarts == 1);
    CHECK(after["a"].restarts + after["c"].restarts + after["d"].restarts == 0);
    for (auto& id : {"a", "b", "c", "d"})
      CHECK(after[id].ref == before[id].ref);
    CHECK(gone(before["b"].pid));
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("one_for_all stops the other children in reverse order and restarts all of them in "
          "order",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(four_members(strategy::one_for_all, self.ref()));
    stop_at_exit cleanup{sup};
    auto before = children(sup);
    (void)queued_notes(self);

    auto notes = crash_and_wait(self, sup, "b", "d");
    CHECK(story(notes)
          == strings{"exit b", "exit d", "exit c", "exit a", "init a", "init b", "init c", "init d"});
    for (auto& n : notes) {
      if (n.event != "exit")
        continue;
      INFO(n.tag << ": " << n.detail);
      if (n.tag == "b")
        CHECK_THAT(n.detail, Catch::Contains("exception") && Catch::Contains("crash of b"));
      else
        CHECK_THAT(n.detail, Catch::StartsWith("shutdown"));
    }

    auto after = children(sup);
    for (auto& id : {"a", "b", "c", "d"}) {
      INFO("child " << id);
      CHECK(after[id].running);
      CHECK(after[id].pid != before[id].pid);
      CHECK(after[id].ref == before[id].ref);
      CHECK(gone(before[id].pid));
    }
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("rest_for_one restarts the crashed child and those started after it, not those before",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor(four_members(strategy::rest_for_one, self.ref()));
    stop_at_exit cleanup{sup};
    auto before = children(sup);
    (void)queued_notes(self);

    auto notes = crash_and_wait(self, sup, "b", "d");
    CHECK(story(notes) == strings{"exit b", "exit d", "exit c", "init b", "init c", "init d"});
    auto after = children(sup);
    CHECK(after["a"].pid == before["a"].pid);
    for (auto& id : {"b", "c", "d"}) {
      INFO("child " << id);
      CHECK(after[id].running);
      CHECK(after[id].pid != before[id].pid);
      CHECK(gone(before[id].pid));
    }

    // The last child has nobody after it: it alone is restarted.
    auto middle = children(sup);
    notes = crash_and_wait(self, sup, "d", "d");
    CHECK(story(notes) == strings{"exit d", "init d"});
    auto last = children(sup);
    for (auto& id : {"a", "b", "c"})
      CHECK(last[id].pid == middle[id].pid);
    CHECK(last["d"].pid != middle["d"].pid);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("simple_one_for_one starts children of its one spec with start_child's arguments "
          "appended and generated ids",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::child_spec tmpl;
    tmpl.id = "num";
    tmpl.start = proctor::child<numbered>(self.ref(), std::string{"w"}); // n comes with start_child
    proctor::supervisor_spec spec{flags(strategy::simple_one_for_one), {tmpl}};
    auto sup = proctor::start_supervisor(spec, {.name = "dyn"});
    stop_at_exit cleanup{sup};
    CHECK(child_ids(sup).empty()); // the spec is a template: no child until start_child

    std::vector<proctor::actor_ref> refs;
    for (std::int32_t n : {7, 8, 9}) {
      proctor::child_spec extra;
      extra.start = proctor::child<numbered>(n);
      auto ref = proctor::start_child(sup, extra);
      REQUIRE(ref);
      refs.push_back(*ref);
    }
    CHECK(story(queued_notes(self), {"init"}) == strings{"init w-7", "init w-8", "init w-9"});

    auto ids = child_ids(sup);
    REQUIRE(ids.size() == 3);
    CHECK(ids[0] != ids[1]);
    CHECK(ids[1] != ids[2]);
    CHECK(ids[0] != ids[2]);
    CHECK(refs[0] != refs[1]);
    CHECK(refs[1] != refs[2]);

    // Each ref reaches the child that got its arguments.
    for (std::size_t i = 0; i < refs.size(); ++i)
      REQUIRE(self.send(refs[i], sup_job{static_cast<std::int32_t>(i)}));
    std::vector<std::string> tags(3);
    for (int i = 0; i < 3; ++i)
      REQUIRE(self.receive(patience, [&](const sup_done& d) { tags.at(d.id) = d.tag; }));
    CHECK(tags == strings{"w-7", "w-8", "w-9"});

    // A dynamic child that crashes comes back with the same arguments; the others stay.
    auto before = children(sup);
    REQUIRE(self.send(refs[1], sup_crash{before[ids[1]].pid, throw_exception, "crash"}));
    auto notes = notes_through(self, "init", "w-8");
    CHECK(story(notes) == strings{"init w-8"});
    auto after = children(sup);
    CHECK(after[ids[0]].pid == before[ids[0]].pid);
    CHECK(after[ids[1]].pid != before[ids[1]].pid);
    CHECK(after[ids[2]].pid == before[ids[2]].pid);

    // terminate_child removes a dynamic child altogether (OTP).
    REQUIRE(proctor::terminate_child(sup, ids[1]));
    CHECK(child_ids(sup) == strings{ids[0], ids[2]});
    CHECK(gone(after[ids[1]].pid));
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("count_children of a simple_one_for_one supervisor counts its one spec and every "
          "dynamic child, as OTP does",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::child_spec tmpl;
    tmpl.id = "num";
    tmpl.start = proctor::child<numbered>(self.ref(), std::string{"w"});
    auto sup = proctor::start_supervisor({flags(strategy::simple_one_for_one), {tmpl}});
    stop_at_exit cleanup{sup};
    for (std::int32_t n : {1, 2}) {
      proctor::child_spec extra;
      extra.start = proctor::child<numbered>(n);
      REQUIRE(proctor::start_child(sup, extra));
    }
    auto counts = proctor::count_children(sup);
    REQUIRE(counts);
    CHECK(counts->specs == 1);
    CHECK(counts->active == 2);
    CHECK(counts->workers == 2);
    CHECK(counts->supervisors == 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("start_supervisor throws when a child cannot start, after stopping the children it "
          "had started in reverse order",
          "[supervisor][strategy]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::test::temp_file marker;
    { std::ofstream{marker.path()} << "fail"; }
    proctor::child_spec bad;
    bad.id = "c";
    bad.start = proctor::child<fragile>(self.ref(), std::string{"c"}, marker.path());
    proctor::supervisor_spec spec{flags(strategy::one_for_one),
                                  {member_spec("a", self.ref()), member_spec("b", self.ref()), bad}};
    try {
      (void)proctor::start_supervisor(spec, {.name = "doomed"});
      FAIL("start_supervisor returned");
    } catch (const proctor::spawn_error& e) {
      CHECK(e.error().code == proctor::actor_errc::spawn_failed);
      CHECK_THAT(std::string{e.what()}, Catch::Contains("refusing to start"));
    }
    CHECK(story(queued_notes(self)) == strings{"init a", "init b", "exit b", "exit a"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
