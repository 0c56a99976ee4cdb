#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::exit_kind;

struct lc_note {
  std::string text;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lc_note& x) {
  return f(caf::meta::type_name("lc_note"), x.text);
}
PROCTOR_MESSAGE(lc_note, "test.lifecycle.note");

struct lc_describe {};
PROCTOR_MESSAGE(lc_describe, "test.lifecycle.describe");
struct lc_stop {};
PROCTOR_MESSAGE(lc_stop, "test.lifecycle.stop");
struct lc_add {
  std::int32_t n;
};
PROCTOR_MESSAGE(lc_add, "test.lifecycle.add");
struct lc_count_maps {};
PROCTOR_MESSAGE(lc_count_maps, "test.lifecycle.count_maps");

namespace lifecycle {

/// A class actor with every optional part: it tells `observer` about its init and its end.
class recorder {
 public:
  recorder(proctor::actor& self, proctor::actor_ref observer, std::string tag, std::int32_t n)
    : self_(self), observer_(std::move(observer)), tag_(std::move(tag)), n_(n) {}

  void init() {
    initialized_ = true;
    (void)self_.send(observer_, lc_note{"init " + tag_});
  }

  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const lc_describe&) {
              return tag_ + " " + std::to_string(n_) + (initialized_ ? " initialized" : " raw");
            },
            [this](const lc_stop&) { self_.quit(); }};
  }

  void on_exit(const proctor::exit_reason& why) {
    (void)self_.send(observer_, lc_note{"exit " + to_string(why)});
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref observer_;
  std::string tag_;
  std::int32_t n_;
  bool initialized_ = false;
};

/// A class actor whose constructor takes no actor&, and has neither init nor on_exit.
class accumulator {
 public:
  explicit accumulator(std::int32_t start) : total_(start) {}
  proctor::behavior make_behavior() {
    return {pid_handler(), [this](const lc_add& a) { return total_ += a.n; }};
  }

 private:
  std::int32_t total_;
};

/// A function actor with an argument.
proctor::behavior adder(proctor::actor&, std::int32_t base) {
  return {pid_handler(), [base](const lc_add& a) { return base + a.n; }};
}

class throwing_init {
 public:
  explicit throwing_init(std::string why) : why_(std::move(why)) {}
  void init() { throw std::runtime_error(why_); }
  proctor::behavior make_behavior() { return {pid_handler()}; }

 private:
  std::string why_;
};

proctor::behavior throwing_function(proctor::actor&, std::string why) {
  throw std::runtime_error(why);
}

/// Dies in init: 0 SIGSEGV, 1 proctor::exit(7), 2 _exit(5) (without a word).
class dying_init {
 public:
  explicit dying_init(std::int32_t how) : how_(how) {}
  void init() {
    switch (how_) {
      case 0:
        no_core_file();
        ::raise(SIGSEGV);
        break;
      case 1:
        proctor::exit(7);
      default:
        ::_exit(5);
    }
  }
  proctor::behavior make_behavior() { return {pid_handler()}; }

 private:
  std::int32_t how_;
};

class slow_init {
 public:
  explicit slow_init(std::int32_t ms) : ms_(ms) {}
  void init() { std::this_thread::sleep_for(std::chrono::milliseconds(ms_)); }
  proctor::behavior make_behavior() { return {pid_handler()}; }

 private:
  std::int32_t ms_;
};

} // namespace lifecycle

TEST_CASE("a class actor is built with its arguments, has run init when spawn returns, and "
          "calls on_exit with its exit reason",
          "[actor][lifecycle]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto a = proctor::spawn<lifecycle::recorder>(on(m), self.ref(), std::string{"tag"},
                                                 std::int32_t{5});
    REQUIRE(a);
    // init sent its note before it finished, so the note is here already: no waiting at all.
    std::string first;
    CHECK(self.receive(0s, [&](const lc_note& n) { first = n.text; }));
    CHECK(first == "init tag");

    auto described = self.request<std::string>(a, patience, lc_describe{});
    REQUIRE(described);
    CHECK(*described == "tag 5 initialized");
    CHECK(pid_of(self, a) != ::getpid());

    auto mon = self.monitor(a);
    REQUIRE(self.send(a, lc_stop{}));
    // on_exit runs before the actor's end is known: its note comes before the DOWN.
    std::vector<std::string> seen;
    for (int i = 0; i < 2; ++i)
      self.receive(patience, [&](const lc_note& n) { seen.push_back(n.text); },
                   [&](const proctor::down_msg& d) {
                     CHECK(d.monitor_id == mon);
                     seen.push_back("DOWN " + to_string(d.reason));
                   });
    CHECK(seen == std::vector<std::string>{"exit normal", "DOWN normal"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a class actor without an actor& constructor and a function actor get their arguments",
          "[actor][lifecycle]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto acc = proctor::spawn<lifecycle::accumulator>(on(m), std::int32_t{100});
    auto add = proctor::spawn<lifecycle::adder>(on(m), std::int32_t{1000});
    CHECK(self.request<std::int32_t>(acc, patience, lc_add{1}).value() == 101);
    CHECK(self.request<std::int32_t>(acc, patience, lc_add{10}).value() == 111);
    CHECK(self.request<std::int32_t>(add, patience, lc_add{7}).value() == 1007);
    CHECK(self.request<std::int32_t>(add, patience, lc_add{8}).value() == 1008);
    stop(self, acc);
    stop(self, add);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("spawn throws spawn_error with the exception's text when an actor's init throws",
          "[actor][lifecycle]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    try {
      (void)proctor::spawn<lifecycle::throwing_init>(on(m), std::string{"no config file at /x"});
      FAIL("spawn returned");
    } catch (const proctor::spawn_error& e) {
      INFO(e.what());
      CHECK(e.error().code == proctor::actor_errc::spawn_failed);
      CHECK(e.error().reason.kind == exit_kind::exception);
      CHECK_THAT(e.error().reason.detail, Catch::Contains("no config file at /x"));
      CHECK_THAT(std::string{e.what()}, Catch::Contains("no config file at /x"));
    }
    try {
      (void)proctor::spawn<lifecycle::throwing_function>(on(m), std::string{"no behavior today"});
      FAIL("spawn returned");
    } catch (const proctor::spawn_error& e) {
      INFO(e.what());
      CHECK(e.error().code == proctor::actor_errc::spawn_failed);
      CHECK(e.error().reason.kind == exit_kind::exception);
      CHECK_THAT(std::string{e.what()}, Catch::Contains("no behavior today"));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("spawn throws spawn_error naming how an actor died in init", "[actor][lifecycle]") {
  auto m = GENERATE(from_range(all_methods));
  auto how = GENERATE(0, 1, 2);
  INFO("start method " << proctor::to_string(m) << ", way to die " << how);
  leftover_guard guard;
  {
    try {
      (void)proctor::spawn<lifecycle::dying_init>(on(m), std::int32_t{how});
      FAIL("spawn returned");
    } catch (const proctor::spawn_error& e) {
      INFO(e.what());
      const auto& why = e.error().reason;
      CHECK(e.error().code == proctor::actor_errc::spawn_failed);
      switch (how) {
        case 0:
          CHECK(why.kind == exit_kind::signal);
          CHECK(why.code == SIGSEGV);
          break;
        case 1:
          CHECK(why.kind == exit_kind::exit_code);
          CHECK(why.code == 7);
          break;
        default:
          CHECK(why.kind == exit_kind::exit_code);
          CHECK(why.code == 5);
      }
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("spawn gives up on an actor whose init outlasts the start timeout and leaves nothing "
          "behind",
          "[actor][lifecycle]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    auto opts = on(m);
    opts.start_timeout = 300ms;
    try {
      (void)proctor::spawn<lifecycle::slow_init>(opts, std::int32_t{120'000});
      FAIL("spawn returned");
    } catch (const proctor::spawn_error& e) {
      INFO(e.what());
      CHECK(e.error().code == proctor::actor_errc::spawn_failed);
      CHECK_THAT(std::string{e.what()}, Catch::Contains("did not finish init"));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

namespace lifecycle {

/// One proctor segment as /proc/self/maps shows this process's mappings of it.
struct segment_mapping {
  int lines = 0;        ///< Mapping lines (a mapping split by madvise shows as several).
  int mappings = 0;     ///< Lines at offset 0: each a mapping of its own.
  bool deleted = false; ///< Unlinked already (as earlier tests' segments are).
};

/// The proctor segments this process maps, by name.
std::map<std::string, segment_mapping> mapped_proctor_segments() {
  std::ifstream maps("/proc/self/maps");
  std::map<std::string, segment_mapping> found;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields{line};
    std::string range, perms, offset, dev, inode, path, deleted;
    fields >> range >> perms >> offset >> dev >> inode >> path >> deleted;
    if (!path.starts_with("/dev/shm/proctor-"))
      continue;
    auto& m = found[path + (deleted.empty() ? "" : " (deleted)")];
    ++m.lines;
    m.mappings += std::stoull(offset, nullptr, 16) == 0 ? 1 : 0;
    m.deleted = !deleted.empty();
  }
  return found;
}

/// How many lines of this process's mappings are of proctor segments.
int mapped_segments() {
  int n = 0;
  for (const auto& [name, m] : mapped_proctor_segments())
    n += m.lines;
  return n;
}

/// The most mappings this process has of any one proctor segment that still has its name.
int most_maps_of_one_segment() {
  int most = 0;
  for (const auto& [name, m] : mapped_proctor_segments())
    if (!m.deleted)
      most = std::max(most, m.mappings);
  return most;
}

proctor::behavior map_counter(proctor::actor&) {
  return {pid_handler(),
          [](const lc_count_maps&) { return static_cast<std::int32_t>(most_maps_of_one_segment()); }};
}

/// How many proctor segments, told apart by name, this process has mapped.
int distinct_segments() {
  return static_cast<int>(mapped_proctor_segments().size());
}

proctor::behavior segment_counter(proctor::actor&) {
  return {pid_handler(),
          [](const lc_count_maps&) { return static_cast<std::int32_t>(distinct_segments()); }};
}

} // namespace lifecycle

TEST_CASE("a spawner and the actor it forked map each other's mailbox only once when messages go "
          "both ways",
          "[actor][lifecycle]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto a = proctor::spawn<lifecycle::map_counter>(on(proctor::start_method::fork));
    // The actor answers once (a send to the spawner's mailbox), then counts its mappings.
    REQUIRE(pid_of(self, a) > 0);
    CHECK(self.request<std::int32_t>(a, patience, lc_count_maps{}).value() == 1);
    CHECK(lifecycle::most_maps_of_one_segment() == 1);
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor forked by its spawner maps no mailbox of the actors spawned before it",
          "[actor][lifecycle]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto first = proctor::spawn<lifecycle::segment_counter>(on(proctor::start_method::fork));
    // Its own mailbox (a cell and a ring) and maybe its spawner's, which it answers.
    auto alone = self.request<std::int32_t>(first, patience, lc_count_maps{}).value();
    CHECK(alone >= 2);
    std::vector<proctor::actor_ref> others;
    for (int i = 0; i < 6; ++i)
      others.push_back(proctor::spawn<lifecycle::segment_counter>(on(proctor::start_method::fork)));
    for (auto& other : others) // each answered: the spawner maps every one of their mailboxes
      REQUIRE(self.request<std::int32_t>(other, patience, lc_count_maps{}).value() == alone);
    auto last = proctor::spawn<lifecycle::segment_counter>(on(proctor::start_method::fork));
    CHECK(self.request<std::int32_t>(last, patience, lc_count_maps{}).value() == alone);
    for (auto& a : others)
      stop(self, a);
    stop(self, first);
    stop(self, last);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a process forked from a host reaches the host's scoped actor and is told noproc once "
          "it has ended",
          "[actor][lifecycle]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    std::optional<proctor::scoped_actor> host{std::in_place};
    auto ref = host->ref();
    proctor::event ended;
    // The child reaches the host's mailbox through the mapping it inherited.
    proctor::process child{proctor::process::options{.name = "forked-sender",
                                                     .method = proctor::start_method::fork},
                           [ref, ended]() mutable {
                             proctor::scoped_actor inner;
                             bool first = inner.send(ref, lc_add{1}).has_value();
                             if (!ended.wait(patience))
                               proctor::exit(4);
                             auto second = inner.send(ref, lc_add{2});
                             bool noproc =
                               !second && second.error().code == proctor::actor_errc::noproc;
                             proctor::exit(first && noproc ? 0 : 3);
                           }};
    child.start();
    std::int32_t got = 0;
    CHECK(host->receive(patience, [&](const lc_add& a) { got = a.n; }));
    CHECK(got == 1);
    host.reset();
    ended.set();
    child.join(patience);
    CHECK(child.exitcode() == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a host that spawns short-lived actors one after another keeps only a few of their "
          "mailboxes mapped, and refs to the ended ones answer noproc",
          "[actor][lifecycle]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    int before = lifecycle::mapped_segments();
    std::vector<proctor::actor_ref> ended;
    constexpr int rounds = 150;
    for (int i = 0; i < rounds; ++i) {
      auto a = proctor::spawn<lifecycle::adder>(on(proctor::start_method::fork), std::int32_t{i});
      REQUIRE(self.request<std::int32_t>(a, patience, lc_add{1}).value() == i + 1);
      stop(self, a);
      ended.push_back(a);
    }
    // Two segments per mailbox: without unmapping, 2 * 150 at least. A mailbox goes a few
    // dozen new ones after its actor was seen ended.
    int after = lifecycle::mapped_segments();
    INFO("segments mapped before " << before << ", after " << after);
    CHECK(after - before <= 80);
    for (auto& a : {ended.front(), ended[rounds / 2], ended.back()}) {
      auto sent = self.send(a, lc_add{1});
      REQUIRE_FALSE(sent);
      CHECK(sent.error().code == proctor::actor_errc::noproc);
      auto r = self.request<std::int32_t>(a, patience, lc_add{1});
      REQUIRE_FALSE(r);
      CHECK(r.error().code == proctor::actor_errc::noproc);
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a process forked from a host reaches the actors the host knows, through mappings of "
          "its own",
          "[actor][lifecycle]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto acc = proctor::spawn<lifecycle::accumulator>(on(proctor::start_method::fork),
                                                      std::int32_t{100});
    // The host maps acc's mailbox here; forked children do not inherit that mapping.
    REQUIRE(self.request<std::int32_t>(acc, patience, lc_add{1}).value() == 101);
    proctor::process child{proctor::process::options{.name = "forked-sender",
                                                     .method = proctor::start_method::fork},
                           [acc] {
                             proctor::scoped_actor inner;
                             auto r = inner.request<std::int32_t>(acc, patience, lc_add{10});
                             proctor::exit(r && *r == 111 ? 0 : 3);
                           }};
    child.start();
    child.join(patience);
    CHECK(child.exitcode() == 0);
    CHECK(self.request<std::int32_t>(acc, patience, lc_add{0}).value() == 111);
    stop(self, acc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
