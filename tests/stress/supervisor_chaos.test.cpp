// Chaos under a supervisor: a steady stream of messages to 20 workers while random workers are
// SIGKILLed every few milliseconds. Nothing may be lost silently: every message sent is handled or
// dead-lettered, each restart answers one kill, and nothing is left behind.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"

using namespace std::chrono_literals;

struct chaos_job {
  std::int64_t id;
};
PROCTOR_MESSAGE(chaos_job, "test.chaos.job");

/// A worker handled job `id`: (id << 5) | worker, one number per handled message.
struct chaos_handled {
  std::int64_t tagged;
};
PROCTOR_MESSAGE(chaos_handled, "test.chaos.handled");

/// Asks the collector how many reports it has.
struct chaos_count {};
PROCTOR_MESSAGE(chaos_count, "test.chaos.count");

/// Asks the collector for its reports from index `from` on (at most a chunk).
struct chaos_fetch {
  std::int64_t from;
};
PROCTOR_MESSAGE(chaos_fetch, "test.chaos.fetch");

namespace chaos {

constexpr int workers = 20;
constexpr std::size_t chunk = 16384;

/// Keeps every report, in arrival order, duplicates included.
class collector {
 public:
  proctor::behavior make_behavior() {
    return {[this](const chaos_handled& h) { reports_.push_back(h.tagged); },
            [this](const chaos_count&) { return static_cast<std::int64_t>(reports_.size()); },
            [this](const chaos_fetch& f) {
              std::vector<std::int64_t> out;
              for (auto i = static_cast<std::size_t>(f.from); i < reports_.size() && out.size() < chunk; ++i)
                out.push_back(reports_[i]);
              return out;
            }};
  }

 private:
  std::vector<std::int64_t> reports_;
};

/// Reports each job it handles; a report that cannot be delivered crashes it, so that the job
/// stays in its mailbox rather than vanish.
class worker {
 public:
  worker(proctor::actor& self, proctor::actor_ref collector, std::int32_t index)
    : self_(self), collector_(std::move(collector)), index_(index) {}

  proctor::behavior make_behavior() {
    return {[this](const chaos_job& j) {
      // A little work, so that some kills land in the middle of a handler.
      auto until = std::chrono::steady_clock::now() + 200us;
      while (std::chrono::steady_clock::now() < until) {
      }
      if (!self_.send(collector_, chaos_handled{(j.id << 5) | index_}))
        throw std::runtime_error("the collector is unreachable");
    }};
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref collector_;
  std::int32_t index_;
};

std::vector<std::int64_t> fetch_all(proctor::scoped_actor& self, const proctor::actor_ref& collector) {
  std::vector<std::int64_t> all;
  for (;;) {
    auto part = self.request<std::vector<std::int64_t>>(collector, 60s,
                                                         chaos_fetch{static_cast<std::int64_t>(all.size())});
    REQUIRE(part);
    all.insert(all.end(), part->begin(), part->end());
    if (part->size() < chunk)
      return all;
  }
}

} // namespace chaos

TEST_CASE("workers SIGKILLed at random under a steady load lose no message: each is handled or "
          "dead-lettered, and every kill is one restart",
          "[stress][supervisor]") {
  // Without and with warm standbys: a standby takes over from a worker killed between two
  // messages; a worker killed in the middle of one is the supervisor's to restart.
  auto standby = GENERATE(false, true);
  INFO("standby " << standby);
  proctor::test::leftover_guard guard;
  {
    proctor::scoped_actor self{"chaos-test"};
    auto collector = proctor::spawn<chaos::collector>(
      proctor::spawn_options{.name = "collector", .mailbox_bytes = 8 << 20});

    proctor::supervisor_spec spec;
    spec.flags.how = proctor::strategy::one_for_one;
    spec.flags.intensity = 1'000'000;
    spec.flags.period = 1s;
    for (std::int32_t i = 0; i < chaos::workers; ++i) {
      std::string id = "w";
      id += std::to_string(i); // not "w" + ...: g++ 12 warns falsely (-Wrestrict) about that
      proctor::child_spec child{id, proctor::child<chaos::worker>(collector, i)};
      child.standby = standby;
      spec.children.push_back(child);
    }
    auto sup = proctor::start_supervisor(spec, {.name = "chaos"});
    auto kids = proctor::which_children(sup);
    REQUIRE(kids);
    REQUIRE(kids->size() == chaos::workers);
    std::vector<proctor::actor_ref> refs;
    for (auto& c : *kids)
      refs.push_back(c.ref);

    // The storm: a burst of one message per worker every few milliseconds, and a SIGKILL of a
    // random running worker every 2-8 ms, for three seconds.
    std::mt19937 rng{20261122};
    std::uniform_int_distribution<int> pick(0, chaos::workers - 1), gap_ms(2, 8);
    std::vector<std::vector<std::int64_t>> sent_to(chaos::workers);
    std::set<std::int32_t> killed;
    std::int64_t next_id = 0;
    int refused = 0;
    auto end = std::chrono::steady_clock::now() + 3s;
    auto next_kill = std::chrono::steady_clock::now();
    for (auto now = next_kill; now < end; now = std::chrono::steady_clock::now()) {
      for (int i = 0; i < chaos::workers; ++i) {
        auto id = next_id++;
        if (self.send(refs[i], chaos_job{id}))
          sent_to[i].push_back(id);
        else
          ++refused;
      }
      if (now >= next_kill) {
        auto victim = pick(rng);
        auto list = proctor::which_children(sup);
        REQUIRE(list);
        auto& c = (*list)[victim];
        // Only a pid seen running and never killed before: each kill ends one incarnation.
        if (c.running && c.pid > 0 && killed.insert(c.pid).second)
          ::kill(c.pid, SIGKILL);
        next_kill = now + std::chrono::milliseconds{gap_ms(rng)};
      }
      std::this_thread::sleep_for(3ms);
    }
    std::size_t sent = 0;
    for (auto& s : sent_to)
      sent += s.size();
    INFO(sent << " messages sent, " << killed.size() << " workers killed");
    CHECK(refused == 0);
    REQUIRE(killed.size() > 10);

    // Quiet again: wait (a generous upper bound) until every message is accounted for.
    std::map<std::int64_t, int> handled_by; // id -> worker that reported it
    std::size_t duplicates = 0;
    std::vector<proctor::dead_letter> dead;
    std::map<int, std::size_t> dead_per_worker;
    auto settle_until = std::chrono::steady_clock::now() + 120s;
    for (;;) {
      auto dl = proctor::dead_letters(sup);
      REQUIRE(dl);
      dead = *dl;
      auto count = self.request<std::int64_t>(collector, 60s, chaos_count{});
      REQUIRE(count);
      if (static_cast<std::size_t>(*count) + dead.size() >= sent) {
        handled_by.clear();
        duplicates = 0;
        for (auto tagged : chaos::fetch_all(self, collector)) {
          auto [it, fresh] = handled_by.emplace(tagged >> 5, static_cast<int>(tagged & 31));
          if (!fresh)
            ++duplicates;
        }
        if (handled_by.size() + dead.size() >= sent)
          break;
      }
      if (std::chrono::steady_clock::now() >= settle_until)
        break;
      std::this_thread::sleep_for(100ms);
    }
    dead_per_worker.clear();
    for (auto& d : dead) {
      CHECK(d.type == "test.chaos.job");
      dead_per_worker[std::stoi(d.child_id.substr(1))] += 1;
    }

    // handled ∪ dead-lettered == sent, worker by worker (a dead letter names its child, not the
    // job): a job sent to worker i and never handled must be one of i's dead letters.
    std::size_t phantom = 0, misrouted = 0;
    std::map<std::int64_t, int> sent_by_id;
    for (int i = 0; i < chaos::workers; ++i)
      for (auto id : sent_to[i])
        sent_by_id[id] = i;
    for (auto& [id, w] : handled_by) {
      auto it = sent_by_id.find(id);
      if (it == sent_by_id.end())
        ++phantom;
      else if (it->second != w)
        ++misrouted;
    }
    CHECK(phantom == 0);
    CHECK(misrouted == 0);
    for (int i = 0; i < chaos::workers; ++i) {
      std::size_t missing = 0;
      for (auto id : sent_to[i])
        missing += handled_by.count(id) == 0 ? 1 : 0;
      INFO("worker w" << i << ": " << sent_to[i].size() << " sent, " << missing
                      << " not handled, " << dead_per_worker[i] << " dead letters");
      CHECK(missing == dead_per_worker[i]);
    }
    // Each kill is one crash and one restart, and every worker runs again.
    auto reports = proctor::crash_reports(sup);
    REQUIRE(reports);
    CHECK(reports->size() == killed.size());
    std::size_t mid_handler = 0;
    for (auto& r : *reports)
      mid_handler += r.in_flight.empty() ? 0 : 1;

    // Duplicates are allowed, and only from at-least-once redelivery: a worker killed after
    // reporting a job but before the job left its mailbox handles it again in its next life.
    std::size_t taken_over = 0;
    for (auto& r : *reports)
      taken_over += r.action == "restarted by its standby" ? 1 : 0;
    WARN(killed.size() << " kills (" << mid_handler << " in the middle of a handler, " << taken_over
                       << " restarted by a standby), "
                       << duplicates << " duplicate reports (at-least-once redelivery after a kill), "
                       << dead.size() << " dead letters, " << handled_by.size() << " of " << sent
                       << " handled");
    CHECK(duplicates <= mid_handler);
    for (auto& r : *reports) {
      INFO(to_string(r));
      CHECK(r.reason.kind == proctor::exit_kind::signal);
      CHECK(r.reason.code == SIGKILL);
      if (standby && r.in_flight.empty())
        CHECK_THAT(r.action, Catch::EndsWith("restart") || Catch::Equals("restarted by its standby"));
      else
        CHECK_THAT(r.action, Catch::EndsWith("restart"));
    }
    auto final_kids = proctor::which_children(sup);
    REQUIRE(final_kids);
    std::size_t restarts = 0;
    for (auto& c : *final_kids) {
      CHECK(c.running);
      restarts += c.restarts;
    }
    CHECK(restarts == killed.size());

    REQUIRE(proctor::stop_supervisor(sup));
    auto mon = self.monitor(collector);
    self.send_exit(collector, {proctor::exit_kind::shutdown, 0, false, "end of test"});
    bool down = false;
    while (!down && self.receive(60s, [&](const proctor::down_msg& d) { down = d.monitor_id == mon; })) {
    }
    CHECK(down);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
