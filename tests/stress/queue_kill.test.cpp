#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::queue;

namespace {

constexpr int per_writer = 200;

/// An item: its id, a checksum and a payload of `base` bytes and more, depending on the id.
std::string make_item(std::uint32_t id, std::size_t base = 0) {
  std::string payload(base + id % 97, static_cast<char>('a' + id % 26));
  std::uint32_t check = id * 2654435761u ^ static_cast<std::uint32_t>(payload.size());
  std::string out(8, '\0');
  std::memcpy(out.data(), &id, 4);
  std::memcpy(out.data() + 4, &check, 4);
  return out + payload;
}

/// The id of a well-formed item, or -1.
std::int64_t check_item(const std::string& item, std::size_t base = 0) {
  if (item.size() < 8)
    return -1;
  std::uint32_t id, check;
  std::memcpy(&id, item.data(), 4);
  std::memcpy(&check, item.data() + 4, 4);
  return make_item(id, base) == item ? static_cast<std::int64_t>(id) : -1;
}

/// Per-id counters in shared memory, inherited by forked children.
struct tallies {
  explicit tallies(std::size_t n) : segment(proctor::shared_segment::create(2 * n + 8)), n(n) {}
  std::atomic<std::uint8_t>& acked(std::size_t id) { return cell(id); }
  std::atomic<std::uint8_t>& received(std::size_t id) { return cell(n + id); }
  std::atomic<std::uint32_t>& malformed() {
    return *reinterpret_cast<std::atomic<std::uint32_t>*>(static_cast<char*>(segment.data()) + 2 * n);
  }
  std::atomic<std::uint8_t>& cell(std::size_t i) {
    return reinterpret_cast<std::atomic<std::uint8_t>*>(segment.data())[i];
  }
  proctor::shared_segment segment;
  std::size_t n;
};

void read_until_stopped(queue<std::string>& q, tallies& t, std::size_t base = 0) {
  for (;;) {
    auto item = q.get(60s);
    if (!item)
      proctor::exit(item.error() == proctor::queue_errc::closed ? 0 : 5);
    auto id = check_item(*item, base);
    if (id < 0)
      t.malformed().fetch_add(1);
    else
      t.received(static_cast<std::size_t>(id)).fetch_add(1);
  }
}

} // namespace

namespace {

/// How the writers of one run are set up and killed.
struct writer_storm {
  int writers;
  int per_writer;            ///< items each tries to put
  std::size_t base;          ///< items are `base` bytes and more
  std::size_t capacity;      ///< of the queue, in bytes
  unsigned seed;
  int max_delay_us;          ///< a writer is killed this long after its start, at most
};

/// Writers, one after the other, each killed at a random instant while one reader takes what
/// they put: every item a writer's put acknowledged arrives once, intact; nothing wedges.
void kill_writers(const writer_storm& storm) {
  leftover_guard guard;
  {
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = storm.capacity}};
    tallies t(static_cast<std::size_t>(storm.writers) * static_cast<std::size_t>(storm.per_writer));
    auto fork = proctor::get_context(proctor::start_method::fork);
    auto reader = fork.make_process([&] { read_until_stopped(q, t, storm.base); });
    reader.start();
    std::mt19937 rng{storm.seed};
    std::uniform_int_distribution<int> delay_us(0, storm.max_delay_us);
    for (int w = 0; w < storm.writers; ++w) {
      auto writer = fork.make_process([&, w] {
        for (int i = 0; i < storm.per_writer; ++i) {
          auto id = static_cast<std::uint32_t>(w * storm.per_writer + i);
          if (q.put(make_item(id, storm.base), 60s))
            t.acked(id).store(1);
        }
      });
      writer.start();
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
      writer.kill();
      writer.join();
    }
    q.close();
    reader.join();
    REQUIRE(reader.exitcode() == 0);
    CHECK(t.malformed().load() == 0);
    std::size_t acked = 0, lost = 0, duplicated = 0;
    for (std::size_t id = 0; id < t.n; ++id) {
      acked += t.acked(id).load();
      lost += t.acked(id).load() && t.received(id).load() == 0;
      duplicated += t.received(id).load() > 1;
    }
    INFO(acked << " items acknowledged by writers");
    CHECK(acked > 0);
    CHECK(lost == 0);
    CHECK(duplicated == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

} // namespace

TEST_CASE("writers killed at random instants lose no committed item and corrupt nothing",
          "[stress]") {
  kill_writers({.writers = 2000, .per_writer = per_writer, .base = 0, .capacity = 64 << 10,
                .seed = 2026, .max_delay_us = 400});
}

TEST_CASE("writers killed while copying large items in lose no committed item and wedge nothing",
          "[stress]") {
  // Items of 64 KiB and more are copied in after the queue's lock is released: a writer killed
  // meanwhile leaves a reserved, uncommitted record that the reader must skip, not wait on.
  kill_writers({.writers = 300, .per_writer = 20, .base = 64 << 10, .capacity = 1 << 20,
                .seed = 7, .max_delay_us = 600});
}

namespace {

/// Readers, one after the other, each killed at a random instant while this process puts
/// `per_round` items of `base` bytes and more: what is left drains in order and intact, no item
/// arrives twice, and at most one per killed reader is lost (taken but never returned).
void kill_readers(int rounds, int per_round, std::size_t base, std::size_t capacity,
                  unsigned seed) {
  leftover_guard guard;
  {
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = capacity}};
    tallies t(static_cast<std::size_t>(rounds) * static_cast<std::size_t>(per_round));
    auto fork = proctor::get_context(proctor::start_method::fork);
    std::mt19937 rng{seed};
    std::uniform_int_distribution<int> delay_us(0, 400);
    std::size_t put = 0;
    for (int r = 0; r < rounds; ++r) {
      auto reader = fork.make_process([&] { read_until_stopped(q, t, base); });
      reader.start();
      for (int i = 0; i < per_round; ++i) {
        auto id = static_cast<std::uint32_t>(r * per_round + i);
        if (q.put_nowait(make_item(id, base))) {
          t.acked(id).store(1);
          ++put;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
      reader.kill();
      reader.join();
    }
    q.close();
    auto last = fork.make_process([&] { read_until_stopped(q, t, base); });
    last.start();
    last.join();
    REQUIRE(last.exitcode() == 0);
    CHECK(q.empty());
    CHECK(q.size() == 0); // the count too: a reader killed between taking and counting is repaired
    CHECK(t.malformed().load() == 0);
    std::size_t received = 0, duplicated = 0, unasked = 0;
    for (std::size_t id = 0; id < t.n; ++id) {
      received += t.received(id).load();
      duplicated += t.received(id).load() > 1;
      unasked += t.received(id).load() && !t.acked(id).load();
    }
    INFO(put << " put, " << received << " received (a killed reader may take one item with it)");
    CHECK(duplicated == 0);
    CHECK(unasked == 0);
    CHECK(received <= put);
    CHECK(put - received <= static_cast<std::size_t>(rounds)); // at most one in flight per kill
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

} // namespace

TEST_CASE("readers killed at random instants leave the queue usable and duplicate nothing",
          "[stress]") {
  kill_readers(1000, 50, 0, 64 << 10, 1122);
}

TEST_CASE("readers killed while copying large items out lose none that they did not take",
          "[stress]") {
  // Items of 64 KiB and more are copied out after the queue's lock is released: a reader killed
  // meanwhile leaves the item marked taken, which the next reader takes back.
  kill_readers(300, 12, 64 << 10, 1 << 20, 4242);
}
