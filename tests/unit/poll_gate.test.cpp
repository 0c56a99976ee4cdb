#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "poll_gate.hpp" // white-box: the actor loop's cheap look at the time

using namespace std::chrono_literals;
using proctor::detail::poll_gate;

TEST_CASE("a poll gate says maybe until it has been compared with the clock", "[poll_gate]") {
  poll_gate gate{10ms};
  CHECK_FALSE(gate.calibrated());
  CHECK(gate.maybe_due());
}

TEST_CASE("a calibrated poll gate says no right after a poll and maybe once the interval passed",
          "[poll_gate]") {
  poll_gate gate{10ms};
  // A comparison spoilt by a preemption between the clock and the counter is tried again.
  for (int i = 0; i < 100 && !gate.calibrated(); ++i) {
    std::this_thread::sleep_for(poll_gate::calibration + 1ms);
    (void)gate.polled();
  }
  REQUIRE(gate.calibrated());
  // Right after a poll the interval cannot have passed. A preempted look may see it pass, so
  // the claim is only that some look among many says no.
  bool said_no = false;
  for (int i = 0; i < 100 && !said_no; ++i) {
    (void)gate.polled();
    said_no = !gate.maybe_due();
  }
  CHECK(said_no);
  // A sleep longer than the interval always makes it due.
  (void)gate.polled();
  std::this_thread::sleep_for(12ms);
  CHECK(gate.maybe_due());
}
