// The ready-made actors of actors/, started from the catalog under a supervisor, as supervise
// starts them.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <proctor/actor_catalog.hpp>
#include <proctor/actors/prime_worker.hpp>
#include <proctor/actors/register_all.hpp>
#include <proctor/actors/state_store.hpp>
#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::catalog_value;

namespace ready_made_test {

constexpr auto patience = 30s;

/// A child spec from the catalog of ready-made actors.
proctor::child_spec from_catalog(const std::string& id, const std::string& actor,
                                 std::vector<catalog_value> args = {}) {
  proctor::actor_catalog catalog;
  proctor::actors::register_all(catalog);
  auto start = catalog.child(actor, args);
  if (!start)
    throw std::runtime_error(to_string(start.error()));
  proctor::child_spec spec{id, *start};
  spec.shutdown = proctor::shutdown_spec::after(2s);
  return spec;
}

} // namespace ready_made_test

using namespace ready_made_test;

TEST_CASE("a state_store from the catalog answers put, get and increment under its id",
          "[ready_made_actors]") {
  leftover_guard guard;
  {
    proctor::supervisor_spec spec;
    spec.children = {from_catalog("rm-store", "state_store")};
    auto sup = proctor::start_supervisor(spec, {.name = "rm-store-sup"});
    proctor::scoped_actor self;
    auto store = proctor::whereis("rm-store");
    REQUIRE(store);
    using proctor::actors::store_get;
    using proctor::actors::store_increment;
    using proctor::actors::store_put;
    using proctor::actors::store_value;
    REQUIRE(self.request<proctor::ok_msg>(store, patience, store_put{"greeting", "hello"}));
    auto got = self.request<store_value>(store, patience, store_get{"greeting"});
    REQUIRE(got);
    CHECK(got->found);
    CHECK(got->value == "hello");
    auto missing = self.request<store_value>(store, patience, store_get{"nothing"});
    REQUIRE(missing);
    CHECK_FALSE(missing->found);
    CHECK(self.request<std::int64_t>(store, patience, store_increment{"n", 5}).value() == 5);
    CHECK(self.request<std::int64_t>(store, patience, store_increment{"n", -2}).value() == 3);
    auto not_a_number = self.request<std::int64_t>(store, patience, store_increment{"greeting", 1});
    REQUIRE_FALSE(not_a_number);
    CHECK(not_a_number.error().code == proctor::actor_errc::handler_error);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a ticker drives the actor registered under its target name", "[ready_made_actors]") {
  leftover_guard guard;
  {
    proctor::supervisor_spec spec;
    spec.children = {
      from_catalog("rm-counts", "state_store"),
      from_catalog("rm-clock", "ticker", {std::string{"rm-counts"}, std::int64_t{10}})};
    auto sup = proctor::start_supervisor(spec, {.name = "rm-tick-sup"});
    proctor::scoped_actor self;
    auto store = proctor::whereis("rm-counts");
    REQUIRE(store);
    std::int64_t ticks = 0;
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (ticks < 3 && std::chrono::steady_clock::now() < deadline) {
      auto v = self.request<proctor::actors::store_value>(
        store, patience, proctor::actors::store_get{"ticks.rm-clock"});
      REQUIRE(v);
      ticks = v->found ? std::stoll(v->value) : 0;
      std::this_thread::sleep_for(10ms);
    }
    CHECK(ticks >= 3);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a prime_worker counts the primes of a range on request", "[ready_made_actors]") {
  CHECK(proctor::actors::primes_in(0, 100) == 25);
  CHECK(proctor::actors::primes_in(100, 100) == 0);
  leftover_guard guard;
  {
    proctor::supervisor_spec spec;
    spec.children = {
      from_catalog("rm-primes", "prime_worker", {std::string{}, std::int64_t{1000}})};
    auto sup = proctor::start_supervisor(spec, {.name = "rm-primes-sup"});
    proctor::scoped_actor self;
    auto n = self.request<std::int64_t>(proctor::whereis("rm-primes"), patience,
                                        proctor::actors::count_primes{0, 1000});
    REQUIRE(n);
    CHECK(*n == 168);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a crasher fails as asked, and its supervisor restarts it", "[ready_made_actors]") {
  leftover_guard guard;
  {
    proctor::supervisor_spec spec;
    spec.flags.intensity = 100;
    spec.children = {
      from_catalog("rm-monkey", "crasher", {std::int64_t{2}, std::string{"abort"}, 0.0}),
      from_catalog("rm-monkey-clock", "ticker", {std::string{"rm-monkey"}, std::int64_t{10}})};
    auto sup = proctor::start_supervisor(spec, {.name = "rm-monkey-sup"});
    proctor::scoped_actor self;
    REQUIRE(proctor::subscribe_crash_reports(sup, self.ref()));
    std::vector<proctor::crash_report> reports;
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (reports.size() < 2 && std::chrono::steady_clock::now() < deadline)
      self.receive(100ms, [&](const proctor::crash_report& r) { reports.push_back(r); });
    REQUIRE(reports.size() >= 2);
    for (auto& r : reports) {
      CHECK(r.child_id == "rm-monkey");
      CHECK(r.reason.kind == proctor::exit_kind::signal);
      CHECK(r.reason.code == SIGABRT);
      CHECK(r.in_flight == "proctor.actors.tick");
      CHECK_FALSE(r.reason.core_dumped);
    }
    CHECK(reports[1].restarts == reports[0].restarts + 1);
    REQUIRE(proctor::stop_supervisor(sup));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
