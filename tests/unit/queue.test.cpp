#include <catch2/catch.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <proctor/detail/ring.hpp>
#include <proctor/joinable_queue.hpp>
#include <proctor/queue.hpp>
#include <proctor/shm_error.hpp>
#include <proctor/simple_queue.hpp>

#include "ring_header.hpp" // white-box: where a buggy process would scribble

using namespace std::chrono_literals;
using proctor::queue;
using proctor::queue_errc;

namespace {

/// Locks `m` from a thread that then ends: the kernel marks the holder dead, as it does for a
/// process killed while holding it. The lock's result (Catch2 asserts on this thread only).
int lock_by_thread_that_ends(pthread_mutex_t& m) {
  int rc = -1;
  std::thread{[&] { rc = ::pthread_mutex_lock(&m); }}.join();
  return rc;
}

struct order {
  std::string item;
  std::vector<int> sizes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order& x) {
  return f(x.item, x.sizes);
}

struct point {
  double x, y;
};

} // namespace

TEST_CASE("a queue keeps FIFO order for items of every size across many wrap-arounds", "[queue]") {
  queue<std::string> q{queue<std::string>::options{.capacity_bytes = 512}};
  std::mt19937 rng{7};
  std::uniform_int_distribution<int> len(0, 100);
  std::vector<std::string> sent;
  for (int round = 0; round < 2000; ++round) {
    std::string s(static_cast<size_t>(len(rng)), static_cast<char>('a' + round % 26));
    REQUIRE(q.put(s, 1s));
    sent.push_back(s);
    while (sent.size() > static_cast<size_t>(1 + round % 2)) { // one or two items in flight: records straddle the end
      auto got = q.get(1s);
      REQUIRE(got);
      REQUIRE(*got == sent.front());
      sent.erase(sent.begin());
    }
  }
  while (!sent.empty()) {
    auto got = q.get_nowait();
    REQUIRE(got);
    REQUIRE(*got == sent.front());
    sent.erase(sent.begin());
  }
  CHECK(q.empty());
}

TEST_CASE("an empty string is an item", "[queue]") {
  queue<std::string> q;
  REQUIRE(q.put(std::string{}));
  CHECK(q.size() == 1);
  auto got = q.get_nowait();
  REQUIRE(got);
  CHECK(got->empty());
}

TEST_CASE("an item too large for the queue fails at put and takes no room", "[queue]") {
  queue<std::string> q{queue<std::string>::options{.capacity_bytes = 1024}};
  REQUIRE(q.put(std::string("first")));
  auto status = q.put(std::string(4096, 'x'));
  REQUIRE_FALSE(status);
  CHECK(status.error() == queue_errc::too_large);
  CHECK(q.size() == 1);
  CHECK(q.put(std::string(q.max_item_bytes(), 'y'), 10ms).error() == queue_errc::full);
  CHECK(*q.get_nowait() == "first");
  CHECK(q.put(std::string(q.max_item_bytes(), 'z'), 1s)); // the largest item fits an empty queue
  CHECK(q.get_nowait()->size() == q.max_item_bytes());
}

TEST_CASE("maxsize bounds the number of items, as Queue(maxsize)", "[queue]") {
  queue<int> q(2);
  CHECK(q.put(1));
  CHECK(q.put(2));
  CHECK(q.full());
  CHECK(q.put_nowait(3).error() == queue_errc::full);
  CHECK(q.put(3, 20ms).error() == queue_errc::full);
  CHECK(*q.get() == 1);
  CHECK(q.put_nowait(3));
  CHECK(*q.get() == 2);
  CHECK(*q.get() == 3);
  CHECK(q.get_nowait().error() == queue_errc::empty);
  CHECK(q.get(20ms).error() == queue_errc::empty);
}

TEST_CASE("a closed queue refuses puts, drains, then reports closed", "[queue]") {
  queue<int> q;
  q.put(1);
  q.close();
  CHECK(q.closed());
  CHECK(q.put(2).error() == queue_errc::closed);
  CHECK(*q.get() == 1);
  CHECK(q.get().error() == queue_errc::closed);
}

TEST_CASE("close wakes a getter that waits without a timeout", "[queue]") {
  queue<int> q;
  std::thread closer{[&] {
    std::this_thread::sleep_for(20ms);
    q.close();
  }};
  auto got = q.get();
  closer.join();
  CHECK(got.error() == queue_errc::closed);
}

TEST_CASE("items travel by memcpy, as bytes or through CAF inspect", "[queue]") {
  queue<point> points;
  points.put(point{1.5, -2});
  auto p = points.get();
  CHECK(p->x == 1.5);
  CHECK(p->y == -2);
  queue<order> orders;
  orders.put(order{"tea", {1, 2, 3}});
  auto o = orders.get();
  CHECK(o->item == "tea");
  CHECK(o->sizes == std::vector<int>{1, 2, 3});
  queue<std::vector<unsigned char>> bytes;
  bytes.put(std::vector<unsigned char>{0, 255, 7});
  CHECK(*bytes.get() == std::vector<unsigned char>{0, 255, 7});
}

TEST_CASE("a queue cannot be opened as a queue of another type", "[queue]") {
  queue<int> q;
  CHECK_THROWS_AS(queue<std::string>::open(q.handle()), proctor::shm_error);
  auto same = queue<int>::open(q.handle());
  same.put(5);
  CHECK(*q.get() == 5);
}

namespace {

/// A view of a queue's shared memory, as a buggy process could scribble on it.
std::byte* raw(const queue<std::string>& q, proctor::shared_segment& keep) {
  keep = proctor::shared_segment::open(q.handle());
  return static_cast<std::byte*>(keep.data());
}

} // namespace

TEST_CASE("bytes scribbled over a record are reported as corruption, not followed", "[queue]") {
  queue<std::string> q{queue<std::string>::options{.capacity_bytes = 4096}};
  q.put(std::string("intact"));
  proctor::shared_segment view;
  auto* mem = raw(q, view);
  // The first record starts the record space, after the header (a 64-byte multiple).
  auto header_end = view.size() - 4096;
  std::memset(mem + header_end, 0xff, 8);
  auto got = q.get_nowait();
  REQUIRE_FALSE(got);
  CHECK(got.error() == queue_errc::corrupt);
  CHECK(q.put(std::string("more")).error() == queue_errc::corrupt); // and it stays reported
}

TEST_CASE("scribbled positions and sizes are reported as corruption, never a crash", "[queue]") {
  std::mt19937 rng{11};
  for (int trial = 0; trial < 200; ++trial) {
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = 512}};
    for (int i = 0; i < 5; ++i)
      q.put(std::string(static_cast<size_t>(i * 13), 'q'));
    proctor::shared_segment view;
    auto* mem = raw(q, view);
    // Scribble a few random bytes anywhere in the segment, header included.
    for (int k = 0; k < 4; ++k)
      mem[rng() % view.size()] = static_cast<std::byte>(rng());
    for (int i = 0; i < 8; ++i) {
      auto got = q.get(1ms);
      if (!got && got.error() != queue_errc::empty && got.error() != queue_errc::corrupt
          && got.error() != queue_errc::serialization && got.error() != queue_errc::closed)
        FAIL("unexpected error " << to_string(got.error()));
      if (!got && got.error() == queue_errc::corrupt)
        break;
    }
  }
}

namespace {

namespace layout = proctor::detail;

/// The first record of a queue whose first item was staged (copied in outside the lock): its
/// tag word and its writer, where a writer killed mid-copy would have left them.
struct first_staged {
  first_staged(const queue<std::string>& q, std::size_t capacity)
    : at(raw(q, view) + (view.size() - capacity)),
      header(reinterpret_cast<layout::ring_header*>(view.data())) {
    std::memcpy(&prefix, at, sizeof prefix);
    std::memcpy(&owner, at + sizeof prefix, sizeof owner);
  }
  /// The record as its writer leaves it while copying in, holding stage slot `slot`.
  void stage(std::uint32_t slot) {
    auto who = owner;
    who.slot = slot;
    std::memcpy(at + sizeof prefix, &who, sizeof who);
    tag().store(layout::staging_tag);
  }
  void commit() { tag().store(layout::staged_tag); }
  std::atomic_ref<std::uint32_t> tag() {
    return std::atomic_ref<std::uint32_t>{*reinterpret_cast<std::uint32_t*>(at + 4)};
  }
  pthread_mutex_t& slot(std::uint32_t k) { return header->stage_slots[k]; }

  proctor::shared_segment view;
  std::byte* at;
  layout::ring_header* header;
  layout::record_prefix prefix{};
  layout::staging_owner owner{};
};

/// A queue whose first item is large, and so staged, followed by the small item `then` if any;
/// at most `maxsize` items (0: no count limit).
struct large_first {
  static constexpr std::size_t capacity = 1 << 20;
  explicit large_first(const char* then = nullptr, std::size_t maxsize = 0)
    : q{queue<std::string>::options{.maxsize = maxsize, .capacity_bytes = capacity}} {
    REQUIRE(q.put(large));
    if (then != nullptr)
      REQUIRE(q.put(std::string(then)));
    record.emplace(q, capacity);
    REQUIRE(record->prefix.tag == layout::staged_tag); // large items are staged
  }
  /// Leaves stage slot `k` held by a thread that is gone (the kernel marks the owner dead).
  void hold_by_dead_thread(std::uint32_t k) {
    REQUIRE(lock_by_thread_that_ends(record->slot(k)) == 0);
  }
  queue<std::string> q;
  std::string large = std::string(100'000, 'L');
  std::optional<first_staged> record;
};

} // namespace

TEST_CASE("a large item whose writer died while copying it in is skipped, and the others arrive",
          "[queue]") {
  large_first f{"after"};
  auto& q = f.q;
  // As a writer killed mid-copy leaves it: uncommitted, its stage slot held by one that is gone.
  f.record->stage(3);
  f.hold_by_dead_thread(3);
  CHECK(q.size() == 2);
  auto got = q.get_nowait(); // not even a getter that never waits is held up by it
  REQUIRE(got);
  CHECK(*got == "after");
  CHECK(q.size() == 0);
  CHECK(q.empty());
  CHECK_FALSE(q.get_nowait());
  REQUIRE(q.put(f.large)); // and the queue goes on, its slots too
  REQUIRE(q.put(f.large));
  CHECK(*q.get(5s) == f.large);
  CHECK(*q.get(5s) == f.large);
}

TEST_CASE("a putter that takes over the stage slot of a writer that died mid-copy leaves the "
          "item count exact for a queue with a maximum size",
          "[queue]") {
  large_first f{"after", 3};
  auto& q = f.q;
  // The dead writer held slot 0, the first one a putter of a large item tries: this putter
  // gives its record up, without the getters' lease (the getters count without a locked
  // instruction under it).
  f.record->stage(0);
  f.hold_by_dead_thread(0);
  REQUIRE(q.put(f.large, 5s));
  // Two items and the abandoned record: a third item fits now, a fourth does not.
  REQUIRE(q.put_nowait(std::string("third")));
  auto over = q.put_nowait(std::string("fourth"));
  REQUIRE_FALSE(over);
  CHECK(over.error() == queue_errc::full);
  CHECK(*q.get(5s) == "after"); // the abandoned record is skipped
  CHECK(q.size() == 2);
  CHECK(*q.get(5s) == f.large);
  CHECK(*q.get(5s) == "third");
  CHECK(q.size() == 0);
  CHECK(q.empty());
}

TEST_CASE("a large item whose getter died while copying it out goes to the next getter",
          "[queue]") {
  large_first f{"after"};
  auto& q = f.q;
  // As a getter killed mid-copy leaves it: marked taken under its stage slot, held by one that
  // is gone.
  f.record->stage(4);
  f.record->tag().store(layout::taking_tag);
  f.hold_by_dead_thread(4);
  auto got = q.get(5s);
  REQUIRE(got);
  CHECK(*got == f.large); // given back, whole, and in its place
  CHECK(*q.get(5s) == "after");
  CHECK(q.empty());
}

TEST_CASE("a getter waits for a large item its live writer is still copying in", "[queue]") {
  large_first f;
  auto& q = f.q;
  auto& record = *f.record;
  std::atomic<int> step{0};
  std::thread writer{[&] { // still copying: holds slot 5 until told to commit
    REQUIRE(::pthread_mutex_lock(&record.slot(5)) == 0);
    step = 1;
    while (step.load() != 2)
      std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    record.commit();
    ::pthread_mutex_unlock(&record.slot(5));
    q.put(std::string("next")); // a commit wakes the getters; so does this put
  }};
  while (step.load() != 1)
    std::this_thread::sleep_for(1ms);
  record.stage(5);
  auto early = q.get(20ms);
  REQUIRE_FALSE(early);
  CHECK(early.error() == queue_errc::empty); // not skipped, not handed out half-copied
  step = 2;
  auto got = q.get(10s);
  writer.join();
  REQUIRE(got);
  CHECK(*got == f.large);
  CHECK(*q.get(5s) == "next");
}

TEST_CASE("a joinable queue copies large items under its lock: a task is never left uncounted",
          "[queue]") {
  proctor::joinable_queue<std::string> q{
    proctor::joinable_queue<std::string>::options{.capacity_bytes = 1 << 20}};
  REQUIRE(q.put(std::string(100'000, 'J')));
  proctor::shared_segment view;
  view = proctor::shared_segment::open(q.handle());
  layout::record_prefix prefix{};
  std::memcpy(&prefix, static_cast<std::byte*>(view.data()) + (view.size() - (1 << 20)), sizeof prefix);
  CHECK(prefix.tag == layout::record_tag);
  CHECK(q.unfinished_tasks() == 1);
}

TEST_CASE("joinable_queue counts tasks until each is marked done", "[queue]") {
  proctor::joinable_queue<int> q;
  q.put(1);
  q.put(2);
  CHECK(q.unfinished_tasks() == 2);
  CHECK_FALSE(q.join(10ms));
  q.get();
  q.task_done();
  q.get();
  q.task_done();
  CHECK(q.join(1s));
  CHECK_THROWS_AS(q.task_done(), proctor::process_error);
}

TEST_CASE("simple_queue puts and gets", "[queue]") {
  proctor::simple_queue<std::string> q;
  CHECK(q.empty());
  q.put("x");
  CHECK_FALSE(q.empty());
  CHECK(*q.get() == "x");
}

namespace {

struct blob {
  std::vector<unsigned char> bytes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blob& x) {
  return f(x.bytes);
}

} // namespace

TEST_CASE("a record claiming a huge sequence is refused before anything is allocated", "[queue]") {
  queue<blob> q{queue<blob>::options{.capacity_bytes = 4096}};
  q.put(blob{{1, 2, 3}});
  proctor::shared_segment view = proctor::shared_segment::open(q.handle());
  auto* first_record = static_cast<std::byte*>(view.data()) + (view.size() - 4096);
  // After the 8-byte record prefix: CAF's varbyte length of the vector. Claim 2^32 - 1 elements.
  std::byte huge[] = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                      std::byte{0x0f}};
  std::memcpy(first_record + 8, huge, sizeof(huge));
  auto got = q.get_nowait();
  REQUIRE_FALSE(got);
  CHECK(got.error() == queue_errc::serialization);
  CHECK(q.put(blob{{4}})); // the bad record was removed; the queue goes on
  CHECK(q.get_nowait()->bytes == std::vector<unsigned char>{4});
}

TEST_CASE("misaligned or reversed positions are reported as corruption", "[queue]") {
  for (std::uint64_t bad_head : {std::uint64_t{4}, std::uint64_t{4096 - 4}, std::uint64_t{1} << 40}) {
    queue<std::string> q{queue<std::string>::options{.capacity_bytes = 4096 - 192}};
    q.put(std::string("x"));
    proctor::shared_segment view = proctor::shared_segment::open(q.handle());
    auto* h = static_cast<proctor::detail::ring_header*>(view.data());
    h->head.store(bad_head);
    h->tail.store(bad_head + 8);
    INFO("head scribbled to " << bad_head);
    CHECK(q.get_nowait().error() == queue_errc::corrupt);
    CHECK(q.put(std::string("y")).error() == queue_errc::corrupt);
  }
}

TEST_CASE("a plain queue cannot be opened as a joinable one, nor the reverse", "[queue]") {
  queue<int> plain;
  proctor::joinable_queue<int> joinable;
  CHECK_THROWS_AS(proctor::joinable_queue<int>::open(plain.handle()), proctor::shm_error);
  CHECK_THROWS_AS(queue<int>::open(joinable.handle()), proctor::shm_error);
}

namespace {

/// The first record of a queue, and where a getter that took it would leave the head.
std::uint64_t past_first_record(layout::ring_header* h, const proctor::shared_segment& view) {
  layout::record_prefix first{};
  auto head = h->head.load();
  std::memcpy(&first, static_cast<const std::byte*>(view.data()) + layout::data_offset
                        + head % h->capacity, sizeof first);
  REQUIRE(first.tag == layout::record_tag);
  return head + sizeof first + (first.size + 7) / 8 * 8;
}

} // namespace

TEST_CASE("a getter that died between taking an item and counting it leaves a right count",
          "[queue]") {
  queue<std::string> q;
  for (const char* item : {"first", "second", "third"})
    REQUIRE(q.put(std::string(item)));
  proctor::shared_segment view = proctor::shared_segment::open(q.handle());
  auto* h = static_cast<layout::ring_header*>(view.data());
  REQUIRE(h->read_lease == 1); // a queue's getters take plain items holding the read lease
  // As a getter killed between its two stores leaves it: the head past "first", the count not
  // yet moved, the lease held by one that is gone.
  h->head.store(past_first_record(h, view));
  REQUIRE(lock_by_thread_that_ends(h->read_mutex) == 0);
  CHECK(q.size() == 3); // what the counts say until a getter repairs them
  auto got = q.get(5s);
  REQUIRE(got);
  CHECK(*got == "second");
  CHECK(q.size() == 1);
  CHECK(*q.get(5s) == "third");
  CHECK(q.size() == 0);
  CHECK(q.empty());
}

TEST_CASE("a getter that died holding the read lease holds up nobody, and takes nothing with it",
          "[queue]") {
  queue<std::string> q;
  REQUIRE(q.put(std::string("kept")));
  proctor::shared_segment view = proctor::shared_segment::open(q.handle());
  auto* h = static_cast<layout::ring_header*>(view.data());
  REQUIRE(lock_by_thread_that_ends(h->read_mutex) == 0);
  auto got = q.get_nowait();
  REQUIRE(got);
  CHECK(*got == "kept");
  CHECK(q.size() == 0);
  CHECK_FALSE(q.get_nowait());
}

TEST_CASE("a queue full by a count a dying getter left too high takes the next put", "[queue]") {
  queue<std::string> q{1}; // maxsize 1
  REQUIRE(q.put(std::string("taken")));
  proctor::shared_segment view = proctor::shared_segment::open(q.handle());
  auto* h = static_cast<layout::ring_header*>(view.data());
  // A getter killed between moving the head past the item and counting it, holding the lease.
  h->head.store(past_first_record(h, view));
  REQUIRE(lock_by_thread_that_ends(h->read_mutex) == 0);
  // No getter comes: the putter itself finds the dead lease and counts again.
  REQUIRE(q.put(std::string("next"), 2s));
  CHECK(q.size() == 1);
  CHECK(*q.get(5s) == "next");
  CHECK(q.size() == 0);
}

TEST_CASE("a repair while a getter is between taking an item and counting it is counted again",
          "[queue]") {
  queue<std::string> q;
  for (const char* item : {"a", "b", "c"})
    REQUIRE(q.put(std::string(item)));
  proctor::shared_segment view = proctor::shared_segment::open(q.handle());
  auto* h = static_cast<layout::ring_header*>(view.data());
  // A live getter, holding the lease, has moved the head past "a" and not yet counted it...
  const auto past_a = past_first_record(h, view);
  std::promise<int> taken;
  std::promise<void> finish;
  std::thread getter{[&] {
    int rc = ::pthread_mutex_lock(&h->read_mutex);
    h->head.store(past_a);
    taken.set_value(rc);
    finish.get_future().wait();
    h->got_count.fetch_add(1);
    ::pthread_mutex_unlock(&h->read_mutex);
  }};
  REQUIRE(taken.get_future().get() == 0);
  // ...when a putter finds that the previous holder of the mutex died, and repairs the counts.
  REQUIRE(lock_by_thread_that_ends(h->mutex) == 0);
  REQUIRE(q.put(std::string("d")));
  finish.set_value();
  getter.join();
  auto got = q.get(5s); // the next getter counts again
  REQUIRE(got);
  CHECK(*got == "b");
  CHECK(q.size() == 2);
  CHECK(*q.get(5s) == "c");
  CHECK(*q.get(5s) == "d");
  CHECK(q.size() == 0);
  CHECK(q.empty());
}

TEST_CASE("a mailbox's reader takes again a count repaired while it was half-way through a take",
          "[queue]") {
  using proctor::detail::ring;
  const auto now = std::chrono::steady_clock::time_point{}; // past: never waits for room
  auto r = ring::create(4096, 1, 0x5453455454554e55); // one reader, at most one record
  REQUIRE_FALSE(r.put("x", 1, now));
  proctor::shared_segment view = proctor::shared_segment::open(r.handle());
  auto* h = static_cast<layout::ring_header*>(view.data());
  REQUIRE(h->read_lease == 0);
  // The reader (get_batch) has counted the record and not yet moved the head past it, when a
  // writer finds that the previous holder of the lock died and repairs the counts.
  const auto past_x = past_first_record(h, view);
  h->got_count.fetch_add(1);
  REQUIRE(lock_by_thread_that_ends(h->mutex) == 0);
  CHECK(r.put("y", 1, now) == queue_errc::full); // the walk still saw "x"
  h->head.store(past_x);                          // the reader's take ends
  CHECK(r.empty());
  CHECK(r.size() == 1); // one too many, until the reader counts again before it sleeps
  r.settle();
  CHECK(r.size() == 0);
  CHECK_FALSE(r.put("y", 1, now));
  CHECK(r.size() == 1);
}

TEST_CASE("getters that each remember the tail they last saw take every item once, in order",
          "[queue]") {
  // Two views of one queue, as two processes hold them: each keeps its own view of the tail,
  // which the other's gets leave behind. Items of mixed sizes in a small ring, so that records
  // wrap and an emptied ring restarts at the beginning of its space.
  queue<std::string> q{queue<std::string>::options{.capacity_bytes = 512}};
  auto other = queue<std::string>::open(q.handle());
  std::vector<std::string> put_items, got_items;
  auto put = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto k = put_items.size();
      put_items.push_back("item-" + std::to_string(k) + std::string(k % 5 * 8, '.'));
      REQUIRE(q.put(put_items.back(), 5s));
    }
  };
  auto take = [&](queue<std::string>& from, int n) {
    for (int i = 0; i < n; ++i) {
      auto item = from.get_nowait();
      REQUIRE(item);
      got_items.push_back(*item);
    }
  };
  for (int round = 0; round < 60; ++round) {
    put(3);
    take(q, 1);     // q's view of the tail: after the three
    take(other, 2); // the head reaches q's view
    put(4);
    take(other, 4); // the head passes q's view
    put(2);
    take(q, 2);
    CHECK_FALSE(q.get_nowait());
    CHECK_FALSE(other.get_nowait());
  }
  CHECK(got_items == put_items);
  CHECK(q.size() == 0);
}

TEST_CASE("a record put in pieces reads back as the pieces joined across wrap-arounds and when staged",
          "[queue]") {
  using proctor::detail::ring;
  auto take = [](ring& r) {
    std::string out;
    auto err = r.get([](void* to, const std::byte* data, std::size_t size) {
      static_cast<std::string*>(to)->assign(reinterpret_cast<const char*>(data), size);
    }, &out, std::chrono::steady_clock::now() + 5s);
    REQUIRE_FALSE(err);
    return out;
  };
  SECTION("small records, empty pieces among them") {
    auto r = ring::create(600, 0, 0x51);
    std::mt19937 rng{11};
    std::uniform_int_distribution<int> len(0, 100); // short pieces and long, across the end
    for (int round = 0; round < 500; ++round) {
      std::string a(static_cast<size_t>(len(rng)), 'a'), b(static_cast<size_t>(len(rng)) % 3, 'b'),
        c(static_cast<size_t>(len(rng)), static_cast<char>('c' + round % 20));
      for (std::size_t k = 0; k < c.size(); ++k) // a piece's bytes each in their place
        c[k] = static_cast<char>(c[k] + static_cast<char>(k % 7));
      ring::piece pieces[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
      REQUIRE_FALSE(r.put(pieces, 3, std::nullopt));
      CHECK(take(r) == a + b + c);
    }
  }
  SECTION("a large record, copied in with the lock released") {
    auto r = ring::create(1 << 20, 0, 0x52, true);
    std::string head(100, 'h'), body(200'000, 'x');
    body[12345] = 'y';
    ring::piece pieces[] = {{head.data(), head.size()}, {nullptr, 0}, {body.data(), body.size()}};
    REQUIRE_FALSE(r.put(pieces, 3, std::nullopt));
    CHECK(take(r) == head + body);
  }
  SECTION("pieces that do not fit together fail as one too large record") {
    auto r = ring::create(256, 0, 0x53);
    std::string half(200, 'h');
    ring::piece pieces[] = {{half.data(), half.size()}, {half.data(), half.size()}};
    CHECK(r.put(pieces, 2, std::nullopt) == queue_errc::too_large);
    CHECK(r.empty());
  }
}

TEST_CASE("a ring whose records take whole cache lines ends every record on a line and reads "
          "records of every size back across wrap-arounds one by one and in batches",
          "[queue]") {
  using proctor::detail::ring;
  auto r = ring::create(1000, 0, 0x54, false, true);
  proctor::shared_segment view = proctor::shared_segment::open(r.handle());
  auto* h = static_cast<proctor::detail::ring_header*>(view.data());
  REQUIRE(h->capacity == 1024); // rounded up to whole lines
  CHECK(r.max_record() == 1024 - 8);
  std::mt19937 rng{5};
  std::uniform_int_distribution<int> len(0, 150);
  auto collect = [](void* to, const std::byte* data, std::size_t size) {
    static_cast<std::vector<std::string>*>(to)->emplace_back(reinterpret_cast<const char*>(data),
                                                              size);
  };
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> sent;
    for (int k = 0; k < 3; ++k) { // 3 x 192 bytes at most, and a wrap: room in an empty ring
      std::string s(static_cast<std::size_t>(len(rng)), static_cast<char>('a' + (round + k) % 26));
      if (!s.empty())
        s.back() = '!';
      REQUIRE_FALSE(r.put(s.data(), s.size(), std::chrono::steady_clock::now() + 5s));
      CHECK(h->tail.load() % 64 == 0);
      sent.push_back(std::move(s));
    }
    std::vector<std::string> got;
    if (round % 2 == 0) {
      std::optional<queue_errc> error;
      CHECK(r.get_batch(collect, &got, 100, error) == sent.size());
      CHECK_FALSE(error);
    } else {
      for (std::size_t k = 0; k < sent.size(); ++k)
        REQUIRE_FALSE(r.get(collect, &got, std::chrono::steady_clock::now() + 5s));
    }
    CHECK(got == sent);
  }
  CHECK(r.empty());
}

TEST_CASE("a ring whose records' layout a scribble flips reports corruption to getters and putters",
          "[queue]") {
  using proctor::detail::ring;
  for (bool lines : {true, false}) {
    INFO("records on whole lines: " << lines);
    auto r = ring::create(4096, 0, 0x55, false, lines);
    std::string item(100, 'x');
    REQUIRE_FALSE(r.put(item.data(), item.size(), std::nullopt));
    proctor::shared_segment view = proctor::shared_segment::open(r.handle());
    static_cast<proctor::detail::ring_header*>(view.data())->line_records = lines ? 0 : 1;
    std::vector<std::string> got;
    auto collect = [](void* to, const std::byte* data, std::size_t size) {
      static_cast<std::vector<std::string>*>(to)->emplace_back(reinterpret_cast<const char*>(data),
                                                                size);
    };
    std::optional<queue_errc> error;
    CHECK(r.get_batch(collect, &got, 10, error) == 0);
    CHECK(error == queue_errc::corrupt);
    CHECK(r.put(item.data(), item.size(), std::chrono::steady_clock::now() + 1s)
          == queue_errc::corrupt);
    CHECK(got.empty());
  }
}

TEST_CASE("a writer killed between storing the tail and the writers' copy of it leaves the next put in the right place",
          "[queue]") {
  queue<std::string> q;
  REQUIRE(q.put(std::string("first")));
  proctor::shared_segment view;
  auto* h = reinterpret_cast<layout::ring_header*>(raw(q, view));
  auto before = h->put_tail.load();
  REQUIRE(q.put(std::string("second")));
  REQUIRE(h->put_tail.load() == h->tail.load());
  // As such a writer leaves it: the second item committed, the copy still where it was, and
  // the mutex held by one that is gone.
  h->put_tail.store(before);
  REQUIRE(lock_by_thread_that_ends(h->mutex) == 0);
  REQUIRE(q.put(std::string("third")));
  CHECK(*q.get(1s) == "first");
  CHECK(*q.get(1s) == "second"); // not written over
  CHECK(*q.get(1s) == "third");
  CHECK(q.empty());
  CHECK(h->put_tail.load() == h->tail.load());
}
