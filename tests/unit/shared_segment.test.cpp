#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <proctor/proctor.hpp>

#include "segment_name.hpp"
#include "support/descriptors.hpp"
#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using proctor::segment_handle;
using proctor::shared_segment;
using proctor::shm_errc;
using proctor::shm_error;

namespace segment_probes {

/// What a child reports back through a segment its parent made.
struct report {
  std::uint32_t ready;  ///< 1 once `name` is written; accessed through std::atomic_ref.
  char name[124];
};

std::uint32_t load(std::uint32_t& word) {
  return std::atomic_ref<std::uint32_t>{word}.load(std::memory_order_acquire);
}

void store(std::uint32_t& word, std::uint32_t value) {
  std::atomic_ref<std::uint32_t>{word}.store(value, std::memory_order_release);
}

/// Checks the segment holds `expected` at offset 0, then writes expected + 1 at offset 8.
void check_and_answer(segment_handle handle, std::uint64_t expected) {
  auto segment = shared_segment::open(handle);
  auto* words = static_cast<std::uint64_t*>(segment.data());
  if (words[0] != expected)
    proctor::exit(3);
  words[1] = expected + 1;
}

/// Creates a segment of its own, reports its name through `mailbox`, then waits to be killed.
void create_and_wait(segment_handle mailbox) {
  auto box = shared_segment::open(mailbox);
  auto* out = static_cast<report*>(box.data());
  auto mine = shared_segment::create(4096);
  std::strncpy(out->name, mine.name().c_str(), sizeof(out->name) - 1);
  store(out->ready, 1);
  std::this_thread::sleep_for(std::chrono::seconds(50));
  proctor::exit(5); // never killed: the test failed
}

} // namespace segment_probes

namespace {

bool in_dev_shm(const std::string& name) {
  return ::access(("/dev/shm" + name).c_str(), F_OK) == 0;
}

/// Waits (polling) until `word` is 1; false after 30 s.
bool wait_ready(std::uint32_t& word) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (segment_probes::load(word) != 1) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

} // namespace

TEST_CASE("segments get unique unguessable names that name their creating process",
          "[shared_segment]") {
  leftover_guard guard;
  {
    std::regex pattern{"/proctor-" + std::to_string(::getpid()) + "\\.[0-9]+-[0-9a-f]{32}"};
    std::vector<shared_segment> segments;
    std::set<std::string> names;
    for (int i = 0; i < 32; ++i) {
      segments.push_back(shared_segment::create(100));
      const auto& name = segments.back().name();
      CHECK(std::regex_match(name, pattern));
      names.insert(name);
      CHECK(in_dev_shm(name));
    }
    CHECK(names.size() == segments.size());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a segment is created with mode 0600 whatever the umask", "[shared_segment]") {
  leftover_guard guard;
  auto mask = GENERATE(mode_t{0}, mode_t{022}, mode_t{0277});
  mode_t old = ::umask(mask);
  auto segment = shared_segment::create(10);
  ::umask(old);
  struct stat st{};
  REQUIRE(::stat(("/dev/shm" + segment.name()).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == ::geteuid());
  segment = shared_segment{};
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a new segment is zero-filled and every mapping sees the same memory",
          "[shared_segment]") {
  leftover_guard guard;
  {
    auto owner = shared_segment::create(10000);
    CHECK(owner.size() == 10000);
    auto* bytes = static_cast<unsigned char*>(owner.data());
    CHECK(std::all_of(bytes, bytes + owner.size(), [](unsigned char b) { return b == 0; }));
    auto other = shared_segment::open(owner.handle());
    CHECK(other.data() != owner.data());
    CHECK(other.size() == owner.size());
    bytes[9999] = 7;
    CHECK(static_cast<unsigned char*>(other.data())[9999] == 7);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the owner unlinks its segment exactly once and openers never do", "[shared_segment]") {
  leftover_guard guard;
  std::string name;
  {
    auto owner = shared_segment::create(64);
    name = owner.name();
    CHECK(owner.owns_name());
    {
      auto opener = shared_segment::open(owner.handle());
      CHECK_FALSE(opener.owns_name());
      opener.unlink(); // a no-op for an opener
    }
    CHECK(in_dev_shm(name));

    auto moved = std::move(owner);
    owner = shared_segment{}; // the moved-from object owns nothing
    CHECK(in_dev_shm(name));

    static_cast<int*>(moved.data())[0] = 5;
    moved.unlink();
    CHECK_FALSE(moved.owns_name());
    CHECK_FALSE(in_dev_shm(name));
    CHECK(static_cast<int*>(moved.data())[0] == 5); // the mapping outlives the name
    CHECK_THROWS_MATCHES(shared_segment::open(moved.handle()), shm_error,
                         has_code(shm_errc::not_found));
    moved.unlink(); // a second call does nothing
  }
  {
    auto scoped = shared_segment::create(64);
    name = scoped.name();
  }
  CHECK_FALSE(in_dev_shm(name)); // the destructor unlinked it
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a forked child uses the inherited mapping and never unlinks the segment",
          "[shared_segment]") {
  leftover_guard guard;
  {
    auto segment = shared_segment::create(64);
    auto p = proctor::get_context(proctor::start_method::fork).make_process([&segment] {
      static_cast<int*>(segment.data())[0] = 42;
      segment.unlink(); // the child's copy of the owner's object: not the owner
    });
    p.start();
    REQUIRE(p.join(std::chrono::seconds(30)));
    CHECK(p.exitcode() == 0);
    CHECK(static_cast<int*>(segment.data())[0] == 42);
    CHECK(in_dev_shm(segment.name()));
    CHECK(segment.owns_name());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child opens a segment from its handle under every start method",
          "[shared_segment]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    auto segment = shared_segment::create(4096);
    auto* words = static_cast<std::uint64_t*>(segment.data());
    words[0] = 0x1234567890;
    auto p = proctor::get_context(method).make_process(
      proctor::entry<segment_probes::check_and_answer>, segment.handle(), words[0]);
    p.start();
    REQUIRE(p.join(std::chrono::seconds(30)));
    CHECK(p.exitcode() == 0);
    CHECK(words[1] == 0x1234567891);
    CHECK(in_dev_shm(segment.name())); // the child did not unlink it
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a segment larger than the free space of /dev/shm is refused with a clear error",
          "[shared_segment]") {
  leftover_guard guard;
  struct statvfs fs{};
  REQUIRE(::statvfs("/dev/shm", &fs) == 0);
  std::size_t too_much = static_cast<std::size_t>(fs.f_bavail) * fs.f_frsize + (std::size_t{1} << 30);
  try {
    auto segment = shared_segment::create(too_much);
    FAIL("created a segment of " << too_much << " bytes");
  } catch (const shm_error& e) {
    CHECK(e.code() == shm_errc::no_space);
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("/dev/shm") && Catch::Contains("free")
                       && Catch::Contains(std::to_string(too_much)));
  }
  CHECK_THROWS_MATCHES(shared_segment::create(0), shm_error, has_code(shm_errc::misuse));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("opening a bad handle is refused with a clear error", "[shared_segment]") {
  leftover_guard guard;
  auto segment = shared_segment::create(100);
  auto too_big = segment.handle();
  too_big.size = 1 << 20;
  CHECK_THROWS_MATCHES(shared_segment::open(too_big), shm_error, has_code(shm_errc::invalid));
  CHECK_THROWS_MATCHES(shared_segment::open(segment_handle{"/etc/passwd", 10}), shm_error,
                       has_code(shm_errc::invalid));
  CHECK_THROWS_MATCHES(shared_segment::open(segment_handle{"/proctor-1.2-../../x", 10}),
                       shm_error, has_code(shm_errc::invalid));
  auto gone = segment.handle();
  segment = shared_segment{};
  CHECK_THROWS_MATCHES(shared_segment::open(gone), shm_error, has_code(shm_errc::not_found));
  CHECK_THROWS_MATCHES(shared_segment{}.handle(), shm_error, has_code(shm_errc::misuse));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("sweeping removes the segment of a killed creator and keeps those of live ones",
          "[shared_segment]") {
  auto method = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    auto mine = shared_segment::create(64);
    auto box_killed = shared_segment::create(sizeof(segment_probes::report));
    auto box_live = shared_segment::create(sizeof(segment_probes::report));
    auto* killed_report = static_cast<segment_probes::report*>(box_killed.data());
    auto* live_report = static_cast<segment_probes::report*>(box_live.data());
    auto ctx = proctor::get_context(method);
    auto killed = ctx.make_process(proctor::entry<segment_probes::create_and_wait>,
                                   box_killed.handle());
    auto live = ctx.make_process(proctor::entry<segment_probes::create_and_wait>,
                                 box_live.handle());
    killed.start();
    live.start();
    REQUIRE(wait_ready(killed_report->ready));
    REQUIRE(wait_ready(live_report->ready));
    std::string stale_name = killed_report->name;
    std::string live_name = live_report->name;
    CHECK(in_dev_shm(stale_name));

    // Not proctor's: same prefix, but not a name proctor makes.
    std::string unrelated = "/proctor-unrelated-" + std::to_string(::getpid());
    int fd = ::shm_open(unrelated.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);

    killed.kill();
    REQUIRE(killed.join(std::chrono::seconds(30)));
    CHECK(killed.exitcode() == -SIGKILL);

    // Another test program starting meanwhile may sweep it first: either way it must be gone.
    proctor::sweep_stale_segments();
    CHECK_FALSE(in_dev_shm(stale_name));
    CHECK(in_dev_shm(live_name));
    CHECK(in_dev_shm(mine.name()));
    CHECK(in_dev_shm(unrelated));
    ::shm_unlink(unrelated.c_str());

    live.kill();
    REQUIRE(live.join(std::chrono::seconds(30)));
    proctor::sweep_stale_segments();
    CHECK_FALSE(in_dev_shm(live_name));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a sweep in a process out of file descriptors, which cannot read /proc, takes no live "
          "run's segment for stale",
          "[shm][unit]") {
  leftover_guard guard;
  {
    auto mine = shared_segment::create(64);
    // (Were it wrong, it would remove every segment of this user, those of tests running
    // beside this one too.)
    auto sweeper = proctor::get_context(proctor::start_method::fork).make_process([] {
      // Room for the directory alone: every open of /proc/PID/stat fails with EMFILE.
      descriptor_limit one_spare{1};
      auto removed = proctor::sweep_stale_segments();
      one_spare.restore();
      proctor::exit(static_cast<int>(std::min<std::size_t>(removed, 100)));
    });
    sweeper.start();
    REQUIRE(sweeper.join(std::chrono::seconds(30)));
    CHECK(sweeper.exitcode() == 0);
    CHECK(in_dev_shm(mine.name()));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// -- the process identity segments are named after (white box) ---------------------------------

TEST_CASE("check_run reads a process's start time even when its name holds spaces and "
          "parentheses, and finds no run for a pid that does not exist",
          "[shm][unit]") {
  char old_name[17] = {};
  ::prctl(PR_GET_NAME, old_name);
  ::prctl(PR_SET_NAME, "a) b (c) 7 8");
  // Field 22 of /proc/self/stat, counted after the last ')' (the way the kernel writes it).
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  ::prctl(PR_SET_NAME, old_name);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i < 22; ++i)
    fields >> field;
  std::uint64_t expected = 0;
  fields >> expected;
  REQUIRE(expected > 0);

  using proctor::detail::run_check;
  ::prctl(PR_SET_NAME, "a) b (c) 7 8");
  auto right = proctor::detail::check_run(::getpid(), expected);
  auto wrong = proctor::detail::check_run(::getpid(), expected + 1);
  ::prctl(PR_SET_NAME, old_name);
  CHECK(right == run_check::running);
  CHECK(wrong == run_check::ended); // another run under the same pid
  CHECK(proctor::detail::current_run().start_time == expected);
  // pid_max is at most 2^22: this one never exists.
  CHECK(proctor::detail::check_run(static_cast<pid_t>(1 << 23)) == run_check::ended);
}
