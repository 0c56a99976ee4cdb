// A task runs inside its worker and can wreck it: scribble over the slab in which the worker
// records its results, make it send nonsense, kill it with its bookkeeping unreadable. The pool
// must neither crash nor hang nor go round in circles: the guilty task fails, every other task
// gets its own result, and the pool keeps serving.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"

namespace {

/// The worker's slab: the one 256 KiB proctor segment a worker maps.
char* find_slab() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/proctor-") == std::string::npos)
      continue;
    unsigned long from = 0;
    unsigned long to = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &from, &to) == 2 && to - from == 256 * 1024)
      return reinterpret_cast<char*>(from);
  }
  return nullptr;
}

enum wreck : std::int32_t {
  none = 0,
  nonsense = 1,  ///< Garbage where results go, and a count that covers it: the worker sends it.
  blind = 2,     ///< Garbage over the whole bookkeeping, then SIGKILL.
  wipe = 3,      ///< The count of recorded results set to zero: results of earlier tasks vanish.
};

/// Doubles x, unless told to wreck its worker first.
int wrecker(int x, std::int32_t how) {
  if (how == none)
    return 2 * x;
  char* slab = find_slab();
  if (slab == nullptr)
    throw std::runtime_error("no slab found in this worker");
  if (how == nonsense) {
    std::memset(slab + 24, 0xA5, 4096); // past the header: where entries go
    std::uint32_t committed = 4096;
    std::memcpy(slab + 20, &committed, sizeof committed);
    return 2 * x;
  }
  if (how == wipe) {
    std::uint32_t committed = 0;
    std::memcpy(slab + 20, &committed, sizeof committed);
    return 2 * x;
  }
  std::memset(slab, 0xA5, 4096); // the header too
  ::kill(::getpid(), SIGKILL);
  for (;;)
    ::pause();
}

std::vector<std::tuple<int, std::int32_t>> inputs(int n, int nonsense_at, int blind_at,
                                                  int wipe_at = -1) {
  std::vector<std::tuple<int, std::int32_t>> v;
  for (int i = 0; i < n; ++i)
    v.emplace_back(i, i == nonsense_at ? nonsense
                      : i == blind_at  ? blind
                      : i == wipe_at   ? wipe
                                       : none);
  return v;
}

int twice(int x) { return 2 * x; }

/// As wrecker, with a result too big for a run of values: each result is an entry of its own.
std::string wrecker_text(int x, std::int32_t how) {
  return std::string(300, static_cast<char>('a' + wrecker(x, how) % 26));
}


void check(const std::vector<proctor::expected<int, proctor::task_error>>& results, int n,
           int guilty, proctor::task_errc code) {
  REQUIRE(results.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    if (i == guilty) {
      REQUIRE_FALSE(results[i].has_value());
      CHECK(results[i].error().code() == code);
      CHECK(results[i].error().index() == static_cast<std::size_t>(i));
    } else {
      REQUIRE(results[i].has_value());
      CHECK(*results[i] == 2 * i);
    }
  }
}

} // namespace

TEST_CASE("a task that makes its worker send malformed results fails alone (bad_result), whatever "
          "the chunk size, and the pool goes on",
          "[pool][hostile]") {
  proctor::test::leftover_guard guard;
  {
    proctor::pool pool{2};
    for (std::size_t chunk : {1u, 4u, 20u}) {
      CAPTURE(chunk);
      check(pool.try_starmap(proctor::task<wrecker>, inputs(20, 5, -1), {chunk}), 20, 5,
            proctor::task_errc::bad_result);
    }
    std::vector<int> after(100);
    std::iota(after.begin(), after.end(), 0);
    auto doubled = pool.map(proctor::task<twice>, after);
    REQUIRE(doubled.size() == 100);
    CHECK(doubled[99] == 198);
    CHECK(pool.worker_pids().size() == 2);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a task that scribbles over its worker's bookkeeping and kills it fails alone "
          "(worker_died), whatever the chunk size, and nothing runs round in circles",
          "[pool][hostile]") {
  proctor::test::leftover_guard guard;
  {
    proctor::pool pool{2};
    for (std::size_t chunk : {1u, 4u, 20u}) {
      CAPTURE(chunk);
      auto before = pool.workers_started();
      check(pool.try_starmap(proctor::task<wrecker>, inputs(20, -1, 7), {chunk}), 20, 7,
            proctor::task_errc::worker_died);
      // One death, and at most a few more while the suspects ran alone: never a loop.
      CHECK(pool.workers_started() - before <= 3);
    }
    CHECK(pool.map(proctor::task<twice>, std::vector{1, 2, 3}) == std::vector{2, 4, 6});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a task that wipes its worker's unsent results costs nobody a result: the worker is "
          "killed when it reports its chunk done, and the wiped tasks run again",
          "[pool][hostile]") {
  proctor::test::leftover_guard guard;
  {
    proctor::pool pool{2};
    for (std::size_t chunk : {1u, 4u, 20u}) {
      CAPTURE(chunk);
      check(pool.try_starmap(proctor::task<wrecker>, inputs(20, -1, -1, 9), {chunk}), 20, -1,
            proctor::task_errc::raised);
    }
    for (std::size_t chunk : {4u, 20u}) {
      CAPTURE(chunk);
      auto texts = pool.try_starmap(proctor::task<wrecker_text>, inputs(20, -1, -1, 9), {chunk});
      REQUIRE(texts.size() == 20);
      for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        REQUIRE(texts[i].has_value());
        CHECK(*texts[i] == std::string(300, static_cast<char>('a' + 2 * i % 26)));
      }
    }
    CHECK(pool.map(proctor::task<twice>, std::vector{1, 2, 3}) == std::vector{2, 4, 6});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
