// What a crash leaves behind and what the supervisor makes of it: the mailbox survives, the crash
// report says what happened, a message that keeps crashing its child is dead-lettered, the
// watchdog ends a handler that does not return, and rlimits end a child that exceeds them.

#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/supervisor_support.hpp"
#include "support/leftovers.hpp"

using namespace std::chrono_literals;
using namespace sup_test;
using proctor::exit_kind;
using proctor::strategy;

namespace {

bool contains_line(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("messages queued before and while a child crashes are handled by its next incarnation, "
          "through the same ref",
          "[supervisor][mailbox]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto w = children(sup)["w"];
    auto ref = w.ref;

    // Queued behind the message that crashes it.
    REQUIRE(self.send(ref, sup_crash{w.pid, throw_exception, "crash"}));
    for (std::int32_t i = 1; i <= 50; ++i)
      REQUIRE(self.send(ref, sup_job{i}));
    auto second = running_pid(sup, "w", w.pid);
    REQUIRE(second > 0);
    CHECK(take_done(self, 50, second) == range(1, 50));
    // A request answered means every job before it is done and gone from the mailbox.
    CHECK(self.request<std::int32_t>(ref, patience, sup_pid_query{}).value() == second);

    // Sent while it is dead or restarting.
    ::kill(second, SIGKILL);
    for (std::int32_t i = 51; i <= 100; ++i)
      REQUIRE(self.send(ref, sup_job{i}));
    auto third = running_pid(sup, "w", second);
    REQUIRE(third > 0);
    CHECK(take_done(self, 50, third) == range(51, 100));

    auto now = children(sup)["w"];
    CHECK(now.ref == ref);
    CHECK(now.restarts == 2);
    CHECK(self.request<std::int32_t>(ref, patience, sup_pid_query{}).value() == third);
    auto reports = proctor::crash_reports(sup);
    REQUIRE(reports);
    REQUIRE(reports->size() == 2);
    CHECK((*reports)[0].in_flight == "test.sup.crash");
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a crash report names the signal, the message in flight and the child's last stderr "
          "lines, or the exception's text",
          "[supervisor][report]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {member_spec("w", self.ref())}},
                                         {.name = "reporting"});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto first = children(sup)["w"].pid;

    REQUIRE(self.send(children(sup)["w"].ref,
                      sup_crash{first, segfault, "w is about to segfault: marker-4711"}));
    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    auto& segv = reports[0];
    INFO(to_string(segv));
    CHECK(segv.supervisor == "reporting");
    CHECK(segv.child_id == "w");
    CHECK(segv.pid == first);
    CHECK(segv.reason.kind == exit_kind::signal);
    CHECK(segv.reason.code == SIGSEGV);
    CHECK(segv.in_flight == "test.sup.crash");
    CHECK(contains_line(segv.stderr_tail, "w is about to segfault: marker-4711"));
    CHECK(segv.restarts == 0);
    CHECK(segv.action == "restart");
    CHECK_THAT(to_string(segv), Catch::Contains("SIGSEGV") && Catch::Contains("test.sup.crash")
                                  && Catch::Contains("marker-4711"));

    auto second = running_pid(sup, "w", first);
    REQUIRE(second > 0);
    REQUIRE(self.send(children(sup)["w"].ref, sup_crash{second, throw_exception, "the disk is on fire"}));
    reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    auto& exc = reports[0];
    INFO(to_string(exc));
    CHECK(exc.pid == second);
    CHECK(exc.reason.kind == exit_kind::exception);
    CHECK_THAT(exc.reason.detail, Catch::Contains("the disk is on fire"));
    CHECK(exc.in_flight == "test.sup.crash");
    CHECK(exc.restarts == 1);
    CHECK_FALSE(contains_line(exc.stderr_tail, "marker-4711")); // the last incarnation's lines only

    auto all = proctor::crash_reports(sup);
    REQUIRE(all);
    REQUIRE(all->size() == 2);
    CHECK((*all)[0].reason.code == SIGSEGV);
    CHECK((*all)[1].reason.kind == exit_kind::exception);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a message that crashes its child max_crashes_per_message times goes to the dead letters "
          "and the child goes on with the next messages",
          "[supervisor][dead_letters]") {
  auto k = GENERATE(1u, 3u);
  INFO("max_crashes_per_message " << k);
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto f = flags(strategy::one_for_one, 10);
    f.max_crashes_per_message = k;
    auto sup = proctor::start_supervisor({f, {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto ref = children(sup)["w"].ref;

    REQUIRE(self.send(ref, sup_crash{0, throw_exception, "poison"})); // crashes every incarnation
    for (std::int32_t i = 1; i <= 3; ++i)
      REQUIRE(self.send(ref, sup_job{i}));

    auto reports = take_reports(self, k);
    REQUIRE(reports.size() == k);
    for (std::size_t i = 0; i < reports.size(); ++i) {
      INFO(to_string(reports[i]));
      CHECK(reports[i].in_flight == "test.sup.crash");
      CHECK_THAT(reports[i].reason.detail, Catch::Contains("poison"));
      CHECK(reports[i].action == (i + 1 == k ? "dead-letter and restart" : "restart"));
    }
    std::vector<std::int32_t> done;
    for (int i = 0; i < 3; ++i)
      REQUIRE(self.receive(patience, [&](const sup_done& d) { done.push_back(d.id); }));
    CHECK(done == range(1, 3));

    auto dead = proctor::dead_letters(sup);
    REQUIRE(dead);
    REQUIRE(dead->size() == 1);
    CHECK((*dead)[0].child_id == "w");
    CHECK((*dead)[0].type == "test.sup.crash");
    CHECK((*dead)[0].crashes == k);
    CHECK_THAT((*dead)[0].sender, Catch::Contains("sup-test"));
    // The message itself, to look at or send again; not as a message of another type.
    auto poison = (*dead)[0].message<sup_crash>();
    REQUIRE(poison);
    CHECK(poison->text == "poison");
    CHECK(poison->pid == 0);
    CHECK_FALSE((*dead)[0].message<sup_job>());
    auto all = proctor::crash_reports(sup);
    REQUIRE(all);
    CHECK(all->size() == k); // nothing crashed after the poison was moved aside
    CHECK(children(sup)["w"].restarts == k);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a dead letter larger than a supervisor keeps names its type and size, without its bytes",
          "[supervisor][dead_letters]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto f = flags(strategy::one_for_one, 10);
    f.max_crashes_per_message = 1;
    auto sup = proctor::start_supervisor({f, {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto ref = children(sup)["w"].ref;
    const std::string big(proctor::dead_letter_payload_max + 1, 'x');
    REQUIRE(self.send(ref, sup_crash{0, throw_exception, big}));
    REQUIRE(self.send(ref, sup_crash{0, throw_exception, "small"}));
    REQUIRE(self.send(ref, sup_job{1}));
    REQUIRE(take_reports(self, 2).size() == 2);
    REQUIRE(self.receive(patience, [](const sup_done& d) { CHECK(d.id == 1); }));
    auto dead = proctor::dead_letters(sup);
    REQUIRE(dead);
    REQUIRE(dead->size() == 2);
    CHECK((*dead)[0].type == "test.sup.crash");
    CHECK((*dead)[0].payload.empty());
    CHECK((*dead)[0].payload_size > proctor::dead_letter_payload_max);
    CHECK_FALSE((*dead)[0].message<sup_crash>());
    auto small = (*dead)[1].message<sup_crash>();
    REQUIRE(small);
    CHECK(small->text == "small");
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a supervisor keeps the last dead_letters_kept dead letters, and a forgotten one gives "
          "its bytes' room to those that follow",
          "[supervisor][dead_letters]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto f = flags(strategy::one_for_one, 10);
    f.max_crashes_per_message = 1;
    f.dead_letters_kept = 4;
    auto sup = proctor::start_supervisor({f, {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto ref = children(sup)["w"].ref;
    // Six letters of 60 KiB: more than dead_letter_payload_budget in all, four at a time within
    // it — if the oldest is forgotten before the newest is weighed against the budget.
    constexpr int letters = 6;
    static_assert(letters * 60 * 1024 > proctor::dead_letter_payload_budget);
    for (int i = 0; i < letters; ++i) {
      auto text = std::string(60 * 1024, static_cast<char>('a' + i));
      REQUIRE(self.send(ref, sup_crash{0, throw_exception, text}));
    }
    REQUIRE(self.send(ref, sup_job{1}));
    REQUIRE(take_reports(self, letters).size() == letters);
    REQUIRE(self.receive(patience, [](const sup_done& d) { CHECK(d.id == 1); }));
    auto dead = proctor::dead_letters(sup);
    REQUIRE(dead);
    REQUIRE(dead->size() == 4);
    // The newest four, oldest first, each kept whole.
    for (std::size_t i = 0; i < 4; ++i) {
      INFO("letter " << i + 3);
      auto letter = (*dead)[i].message<sup_crash>();
      REQUIRE(letter);
      CHECK(letter->text == std::string(60 * 1024, static_cast<char>('c' + i)));
    }
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a request survives the crash of the child handling it: the next incarnation answers it, "
          "and a dead-lettered request is answered with an error",
          "[supervisor][dead_letters]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    auto w = children(sup)["w"];

    // Crashes the incarnation that takes it; the next one handles it and replies.
    auto answered = self.request<proctor::ok_msg>(w.ref, patience, sup_crash{w.pid, throw_exception, "once"});
    CHECK(answered);
    auto second = running_pid(sup, "w", w.pid);
    CHECK(second > 0);

    // Crashes every incarnation: moved aside after max_crashes_per_message (3), and its sender
    // learns it at once instead of waiting for its timeout.
    auto refused = self.request<proctor::ok_msg>(w.ref, patience, sup_crash{0, throw_exception, "always"});
    REQUIRE_FALSE(refused);
    INFO(to_string(refused.error()));
    CHECK(refused.error().code == proctor::actor_errc::handler_error);
    CHECK_THAT(refused.error().message, Catch::Contains("dead-lettered"));
    auto dead = proctor::dead_letters(sup);
    REQUIRE(dead);
    REQUIRE(dead->size() == 1);
    CHECK((*dead)[0].crashes == 3);
    CHECK(self.request<std::int32_t>(w.ref, patience, sup_pid_query{}).value() > 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child that crashes on the first message after its restart is reported as a crash of "
          "that message, not as a failed restart",
          "[supervisor][report]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    // Nothing is dead-lettered: every incarnation takes the poison as soon as it is ready, until
    // the intensity is reached. Each of those ends is a crash on a message, after a start that
    // succeeded (init returned).
    auto f = flags(strategy::one_for_one, 20);
    f.max_crashes_per_message = 0;
    auto sup = proctor::start_supervisor({f, {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto mon = self.monitor(sup);
    REQUIRE(self.send(children(sup)["w"].ref, sup_crash{0, throw_exception, "poison"}));

    REQUIRE(wait_down(self, mon));
    auto reports = take_reports(self, 21);
    REQUIRE(reports.size() == 21);
    auto inits = story(queued_notes(self), {"init"}).size();
    CHECK(inits == 20); // 20 restarts, each through a complete init
    for (std::size_t i = 0; i < reports.size(); ++i) {
      INFO("report " << i << ": " << to_string(reports[i]));
      CHECK(reports[i].pid > 0);
      CHECK(reports[i].in_flight == "test.sup.crash");
      CHECK_THAT(reports[i].action, Catch::StartsWith(i + 1 < reports.size() ? "restart" : "shutdown"));
      CHECK_THAT(reports[i].action, !Catch::Contains("failed"));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a handler that runs past the watchdog is killed with reason unresponsive and its child "
          "restarted, while an idle child is left alone",
          "[supervisor][watchdog]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto spec = member_spec("w", self.ref());
    spec.watchdog = 300ms;
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {spec}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto w = children(sup)["w"];

    REQUIRE(self.send(w.ref, sup_crash{w.pid, hang, {}})); // sleeps a minute in its handler
    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    INFO(to_string(reports[0]));
    CHECK(reports[0].reason.kind == exit_kind::unresponsive);
    CHECK(reports[0].in_flight == "test.sup.crash");
    CHECK(reports[0].action == "restart");
    CHECK(gone(w.pid));
    auto second = running_pid(sup, "w", w.pid);
    REQUIRE(second > 0);
    CHECK(self.request<std::int32_t>(w.ref, patience, sup_pid_query{}).value() == second);

    // Idle for longer than the watchdog's limit (a lower bound): not a handler that hangs.
    std::this_thread::sleep_for(1s);
    CHECK(children(sup)["w"].pid == second);
    auto all = proctor::crash_reports(sup);
    REQUIRE(all);
    CHECK(all->size() == 1);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the watchdog also guards children added with start_child", "[supervisor][watchdog]") {
  auto how = GENERATE(strategy::one_for_one, strategy::simple_one_for_one);
  INFO((how == strategy::one_for_one ? "one_for_one" : "simple_one_for_one"));
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    proctor::supervisor_spec spec{flags(how), {}};
    proctor::child_spec added;
    if (how == strategy::simple_one_for_one) {
      proctor::child_spec tmpl;
      tmpl.id = "num";
      tmpl.start = proctor::child<numbered>(self.ref(), std::string{"w"});
      tmpl.watchdog = 300ms;
      spec.children.push_back(tmpl);
      added.start = proctor::child<numbered>(std::int32_t{1});
    } else {
      added = member_spec("w", self.ref());
      added.watchdog = 300ms;
    }
    auto sup = proctor::start_supervisor(spec);
    stop_at_exit cleanup{sup};
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto ref = proctor::start_child(sup, added);
    REQUIRE(ref);
    auto pid = self.request<std::int32_t>(*ref, patience, sup_pid_query{}).value();

    REQUIRE(self.send(*ref, sup_crash{pid, hang, {}}));
    // Twenty seconds are generous for a 300 ms watchdog; the handler itself sleeps a minute.
    auto reports = take_reports(self, 1, 20s);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].reason.kind == exit_kind::unresponsive);
    CHECK(gone(pid));
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child over its memory limit ends, and its crash report says why",
          "[supervisor][rlimit]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto spec = member_spec("w", self.ref());
    spec.limits.memory_bytes = std::uint64_t{1} << 30; // address space; the child asks for 8 GiB
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {spec}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto w = children(sup)["w"];

    REQUIRE(self.send(w.ref, sup_crash{w.pid, allocate, {}}));
    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    auto& r = reports[0];
    INFO(to_string(r));
    bool bad_alloc = r.reason.kind == exit_kind::exception
                     && r.reason.detail.find("bad_alloc") != std::string::npos;
    bool killed = r.reason.kind == exit_kind::signal;
    CHECK((bad_alloc || killed));
    CHECK(r.in_flight == "test.sup.crash");
    CHECK_FALSE(contains_line(r.stderr_tail, "allocated"));
    CHECK(running_pid(sup, "w", w.pid) > 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child over its CPU time limit ends by SIGXCPU, shown in its crash report",
          "[supervisor][rlimit]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto spec = member_spec("w", self.ref());
    spec.limits.cpu_seconds = 1;
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one), {spec}});
    stop_at_exit cleanup{sup};
    (void)queued_notes(self);
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    auto w = children(sup)["w"];

    REQUIRE(self.send(w.ref, sup_crash{w.pid, spin, {}}));
    auto reports = take_reports(self, 1);
    REQUIRE(reports.size() == 1);
    auto& r = reports[0];
    INFO(to_string(r));
    CHECK(r.reason.kind == exit_kind::signal);
    CHECK(r.reason.code == SIGXCPU);
    CHECK_THAT(to_string(r), Catch::Contains("SIGXCPU"));
    CHECK(r.in_flight == "test.sup.crash");
    CHECK(running_pid(sup, "w", w.pid) > 0);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("crash_reports returns every report, however many bytes they take", "[supervisor][report]") {
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"sup-test"};
    auto sup = proctor::start_supervisor({flags(strategy::one_for_one, 100), {member_spec("w", self.ref())}});
    stop_at_exit cleanup{sup};
    // Each crash leaves eight stderr lines of 4,000 bytes in its report: forty of them take more
    // than the most a list reply is first given (a megabyte, once a long list was asked for).
    std::string text;
    for (int line = 0; line < 8; ++line)
      text += (line ? "\n" : "") + std::string(4000, static_cast<char>('a' + line));
    constexpr int crashes = 40;
    std::int32_t pid = 0;
    for (int i = 0; i < crashes; ++i) {
      pid = running_pid(sup, "w", pid);
      REQUIRE(pid > 0);
      REQUIRE(self.send(children(sup)["w"].ref, sup_crash{pid, segfault, text}));
    }
    REQUIRE(running_pid(sup, "w", pid) > 0);
    auto reports = proctor::crash_reports(sup, patience);
    REQUIRE(reports);
    REQUIRE(reports->size() == crashes);
    for (auto& r : *reports) {
      // All of it, in order: none of it held back in a read still to be handled at the crash.
      REQUIRE(r.stderr_tail.size() == 8);
      for (std::size_t line = 0; line < 8; ++line)
        CHECK(r.stderr_tail[line] == std::string(4000, static_cast<char>('a' + line)));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
