#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::queue;

namespace {

constexpr std::uint32_t stream_items = 300'000;

/// Item `id`: its number and a tail whose length depends on it (up to ~170 bytes), so that in a
/// small ring records often do not fit before the end of the space.
std::string make_item(std::uint32_t id) {
  return std::to_string(id) + ':' + std::string(id * 37 % 160, static_cast<char>('a' + id % 26));
}

void put_stream(queue<std::string> q) {
  for (std::uint32_t id = 0; id < stream_items; ++id)
    if (!q.put(make_item(id), 60s))
      proctor::exit(2);
}

} // namespace

TEST_CASE("a getter that finds a small queue empty while a putter restarts it at the beginning "
          "takes every item once and in order",
          "[queue][stress]") {
  leftover_guard guard;
  {
    // A ring of 256 bytes that the getter keeps nearly empty: a put whose record does not fit
    // before the end of the space often finds it empty and restarts it at the beginning,
    // moving the head and the tail under a getter that is just looking at them.
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = 256}};
    auto producer = proctor::get_context(proctor::start_method::fork)
                      .make_process(proctor::entry<put_stream>, q);
    producer.start();
    std::uint32_t next = 0, wrong = 0;
    std::string first_wrong;
    while (next < stream_items) {
      auto item = q.get(60s);
      if (!item)
        break;
      if (*item != make_item(next) && wrong++ == 0)
        first_wrong = "expected item " + std::to_string(next) + ", got '" + item->substr(0, 20) + "'";
      ++next;
    }
    producer.join(60s);
    INFO(first_wrong);
    CHECK(wrong == 0);
    CHECK(next == stream_items);
    CHECK(producer.exitcode() == 0);
    CHECK(q.empty());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
