#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::process;

TEST_CASE("children killed at random moments of their start are all reaped", "[stress]") {
  leftover_guard guard;
  std::mt19937 rng{20261122};
  std::uniform_int_distribution<int> pick_method(0, 2), pick_delay_us(0, 3000);
  std::vector<process> batch;
  int killed = 0, finished = 0;
  for (int round = 0; round < 20; ++round) {
    batch.clear();
    for (int i = 0; i < 25; ++i) {
      auto m = all_methods[pick_method(rng)];
      batch.push_back(proctor::get_context(m).make_process(entry<probe_sleep_ms>, i % 3));
      batch.back().start();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(pick_delay_us(rng)));
    for (size_t i = 0; i < batch.size(); i += 2)
      batch[i].kill();
    for (auto& p : batch) {
      p.join();
      auto code = p.exitcode();
      REQUIRE(code);
      REQUIRE((*code == 0 || *code == -SIGKILL));
      (*code == 0 ? finished : killed)++;
    }
  }
  CHECK(killed + finished == 500);
  CHECK(proctor::active_children().empty());
  REQUIRE_NO_LEFTOVERS(guard);
}
