#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "poll_gate.hpp" // white-box: the actor loop's cheap look at the time

using namespace std::chrono_literals;
using proctor::detail::poll_gate;

namespace {

/// A gate compared with the clock: polled once a calibration period after its start.
poll_gate calibrated_gate(std::chrono::nanoseconds interval) {
  auto start = poll_gate::clock::now();
  poll_gate gate{start, interval};
  std::this_thread::sleep_for(poll_gate::calibration + 1ms);
  gate.polled(poll_gate::clock::now());
  return gate;
}

} // namespace

TEST_CASE("a poll gate says maybe until it has been compared with the clock", "[poll_gate]") {
  auto start = poll_gate::clock::now();
  poll_gate gate{start, 10ms};
  CHECK(gate.maybe_due());
  gate.polled(start); // no time has passed: nothing to compare yet
  CHECK_FALSE(gate.calibrated());
  CHECK(gate.maybe_due());
}

TEST_CASE("a calibrated poll gate says no right after a poll and maybe once the interval passed",
          "[poll_gate]") {
  auto gate = calibrated_gate(10ms);
  REQUIRE(gate.calibrated());
  // Right after a poll the interval cannot have passed. A preempted look may see it pass, so
  // the claim is only that some look among many says no.
  bool said_no = false;
  for (int i = 0; i < 100 && !said_no; ++i) {
    gate.polled(poll_gate::clock::now());
    said_no = !gate.maybe_due();
  }
  CHECK(said_no);
  // A sleep longer than the interval always makes it due.
  gate.polled(poll_gate::clock::now());
  std::this_thread::sleep_for(12ms);
  CHECK(gate.maybe_due());
}
