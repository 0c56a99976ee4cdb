// The process pool on real worker processes: results in order whatever the chunking, errors per
// task, workers that die in every way without costing any other task its result (or running it
// twice), retries, maxtasksperchild, initializers, the ways a pool ends, and the start methods.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <proctor/proctor.hpp>

#include "integration/pool_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace pool_test;

namespace {
/// Set by an initializer in each worker (a global of the worker process).
int initialized_with = 0;
} // namespace
using proctor::exit_kind;
using proctor::map_options;
using proctor::pool;
using proctor::pool_options;
using proctor::start_method;
using proctor::task;
using proctor::task_errc;
using proctor::task_error;
using proctor::test::leftover_guard;
using proctor::test::temp_file;

namespace pool_tasks {

/// A struct that crosses into a worker through its inspect overload.
struct shape {
  std::string name;
  std::vector<std::int32_t> sides;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shape& x) {
  return f(caf::meta::type_name("pool_test.shape"), x.name, x.sides);
}

/// One task of a map that logs every run: its index goes into the file `log` (4 bytes, O_APPEND).
/// `crash_at` dies as `how` says; `fail_at` and `also_fail_at` throw after logging.
struct step {
  std::string log;
  std::int32_t index = 0;
  std::int32_t crash_at = -1;
  std::int32_t how = sigkill;
  std::int32_t fail_at = -1;
  std::int32_t also_fail_at = -1;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step& x) {
  return f(caf::meta::type_name("pool_test.step"), x.log, x.index, x.crash_at, x.how, x.fail_at,
           x.also_fail_at);
}

std::int32_t square(std::int32_t x) {
  return x * x;
}

std::int32_t power(std::int32_t base, std::int32_t exponent) {
  std::int32_t r = 1;
  for (std::int32_t i = 0; i < exponent; ++i)
    r *= base;
  return r;
}

std::string repeat(std::string s, std::int32_t times) {
  std::string r;
  for (std::int32_t i = 0; i < times; ++i)
    r += s;
  return r;
}

std::string shout(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s + "!";
}

std::string describe(shape s) {
  auto perimeter = std::accumulate(s.sides.begin(), s.sides.end(), std::int64_t{0});
  return s.name + " with " + std::to_string(s.sides.size()) + " sides, perimeter "
         + std::to_string(perimeter);
}

std::string reversed(std::string s) {
  std::reverse(s.begin(), s.end());
  return s;
}

std::int32_t worker_pid(std::int32_t) {
  return static_cast<std::int32_t>(::getpid());
}

/// void: the map gives std::monostate; the log says it ran.
void log_step(step s) {
  append_record(s.log, {reinterpret_cast<const char*>(&s.index), sizeof(s.index)});
}

/// Logs its index, then dies or throws as the step says; else returns twice its index.
std::int32_t run_step(step s) {
  log_step(s);
  if (s.index == s.crash_at)
    die(s.how);
  if (s.index == s.fail_at || s.index == s.also_fail_at)
    throw std::domain_error("step " + std::to_string(s.index) + " refused");
  return 2 * s.index;
}

/// Throws for negative inputs.
std::int32_t checked_square(std::int32_t x) {
  if (x < 0)
    throw std::domain_error("no square for " + std::to_string(x) + " today");
  return x * x;
}

/// 3 segfaults, 7 aborts, 11 SIGKILLs itself; the others give ten times their input.
std::int32_t crash_on(std::int32_t x) {
  switch (x) {
    case 3: die(sigsegv);
    case 7: die(sigabrt);
    case 11: die(sigkill);
    default: return 10 * x;
  }
}

/// Counts its attempts in `log`; SIGKILLs its worker on the first one.
std::int32_t crash_first_time(std::string log) {
  auto attempts = append_record(log, "x");
  if (attempts == 1)
    die(sigkill);
  return static_cast<std::int32_t>(attempts);
}

/// Counts its attempts in `log`; segfaults on every one.
std::int32_t crash_always(std::string log) {
  append_record(log, "x");
  die(sigsegv);
}

std::int32_t wait_then(proctor::event g, std::int32_t value) {
  pass(std::move(g));
  return value;
}

/// A task held by a gate if its index is 0.
struct held {
  proctor::event gate;
  std::int32_t index = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, held& x) {
  return f(caf::meta::type_name("pool_test.held"), x.gate, x.index);
}

std::int32_t hold_zero(held h) {
  if (h.index == 0)
    pass(std::move(h.gate));
  return h.index;
}

std::int32_t wait_for_gate(proctor::event g) {
  pass(std::move(g));
  return 1;
}

void nap_ms(std::int32_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The initializer's effect: state of the worker process, as Python's initializers leave it.
std::string worker_tag;
std::int32_t initializer_runs = 0;

/// Initializer: sets the worker's tag and logs its pid in `log`.
void tag_worker(std::string tag, std::string log) {
  ++initializer_runs;
  worker_tag = std::move(tag);
  auto pid = static_cast<std::int32_t>(::getpid());
  append_record(log, {reinterpret_cast<const char*>(&pid), sizeof(pid)});
}

void refuse_to_start(std::string why) {
  throw std::runtime_error(why);
}

/// What the initializer left in this worker: "<tag>/<runs>".
std::string tag_of_worker(std::int32_t) {
  return worker_tag + "/" + std::to_string(initializer_runs);
}

/// What the process held when a fork pool was made from it: its workers are copies.
std::int32_t process_mark = 0;

std::int32_t mark_of_worker(std::int32_t) {
  return process_mark;
}

/// A pool of its own inside a worker, with start method `m`: the sum of the squares of 0..n-1.
std::int64_t nested_sum(std::int32_t n, start_method m) {
  pool_options o;
  o.name = "inner";
  o.method = m;
  pool inner{2, o};
  auto squares = inner.map(task<square>, iota(n));
  return std::accumulate(squares.begin(), squares.end(), std::int64_t{0});
}

} // namespace pool_tasks

using namespace pool_tasks;

namespace {

pool_options on(start_method m) {
  pool_options o;
  o.method = m;
  return o;
}

std::vector<step> steps(const std::string& log, std::int32_t n, step proto = {}) {
  std::vector<step> out;
  for (std::int32_t i = 0; i < n; ++i) {
    auto s = proto;
    s.log = log;
    s.index = i;
    out.push_back(s);
  }
  return out;
}

/// Keeps one more thread in this process for its lifetime.
class busy_thread {
 public:
  busy_thread()
    : thread_([this] {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [this] { return stop_; });
      }) {}
  ~busy_thread() {
    {
      std::lock_guard lock{mu_};
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  busy_thread(const busy_thread&) = delete;
  busy_thread& operator=(const busy_thread&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::vector<std::int32_t> squares_of(const std::vector<std::int32_t>& xs) {
  std::vector<std::int32_t> out;
  for (auto x : xs)
    out.push_back(x * x);
  return out;
}

} // namespace

// ---- map and its kin

TEST_CASE("a pool's map returns the results in input order, for numbers, strings, structs and "
          "void tasks",
          "[pool][map]") {
  auto m = GENERATE(start_method::forkserver, start_method::spawn, start_method::fork);
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    temp_file log;
    pool p{2, on(m)};
    REQUIRE(p.size() == 2);

    auto inputs = iota(100);
    CHECK(p.map(task<square>, inputs) == squares_of(inputs));

    std::vector<std::string> words{"alpha", "", "gamma", std::string(300, 'z')};
    CHECK(p.map(task<shout>, words)
          == std::vector<std::string>{"ALPHA!", "!", "GAMMA!", std::string(300, 'Z') + "!"});

    std::vector<shape> shapes{{"triangle", {3, 4, 5}}, {"point", {}}, {"square", {2, 2, 2, 2}}};
    CHECK(p.map(task<describe>, shapes)
          == std::vector<std::string>{"triangle with 3 sides, perimeter 12",
                                      "point with 0 sides, perimeter 0",
                                      "square with 4 sides, perimeter 8"});

    auto nothing = p.map(task<log_step>, steps(log.path(), 40));
    CHECK(nothing.size() == 40);
    static_assert(std::is_same_v<decltype(nothing), std::vector<std::monostate>>);
    auto ran = count_records(log.read());
    CHECK(ran.size() == 40);
    CHECK(std::all_of(ran.begin(), ran.end(), [](auto& kv) { return kv.second == 1; }));

    // Every task ran in a worker, none in this process.
    auto workers = p.worker_pids();
    CHECK(workers.size() == 2);
    for (auto pid : p.map(task<worker_pid>, iota(20))) {
      CHECK(pid != ::getpid());
      CHECK(std::find(workers.begin(), workers.end(), pid) != workers.end());
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's map of no inputs returns no results", "[pool][map]") {
  leftover_guard guard;
  {
    pool p{2};
    CHECK(p.map(task<square>, std::vector<std::int32_t>{}).empty());
    CHECK(p.try_map(task<square>, std::vector<std::int32_t>{}).empty());
    CHECK(p.starmap(task<power>, std::vector<std::tuple<std::int32_t, std::int32_t>>{}).empty());
    CHECK(p.map(task<square>, std::vector<std::int32_t>{5}) == std::vector<std::int32_t>{25});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's map returns the same results in input order whatever the chunksize",
          "[pool][map]") {
  auto chunksize = GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000});
  INFO("chunksize " << chunksize);
  leftover_guard guard;
  {
    pool p{2};
    auto inputs = iota(100);
    CHECK(p.map(task<square>, inputs, map_options{.chunksize = chunksize}) == squares_of(inputs));
    CHECK(p.map(task<square>, iota(3), map_options{.chunksize = chunksize})
          == std::vector<std::int32_t>{0, 1, 4});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's map of more tasks than one chunk may carry returns every result in order",
          "[pool][map]") {
  // 3000 arguments of 2 KiB are 6 MiB: more than a chunk may carry, whatever the chunksize asks.
  auto chunksize = GENERATE(std::size_t{0}, std::size_t{3000});
  INFO("chunksize " << chunksize);
  leftover_guard guard;
  {
    pool p{2};
    std::vector<std::string> inputs;
    std::vector<std::string> expected;
    for (int i = 0; i < 3000; ++i) {
      auto s = std::to_string(i) + ":";
      s.resize(2048, static_cast<char>('a' + i % 26));
      inputs.push_back(s);
      expected.push_back(std::string(s.rbegin(), s.rend()));
    }
    auto results = p.map(task<reversed>, inputs, map_options{.chunksize = chunksize});
    REQUIRE(results.size() == expected.size());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < results.size(); ++i)
      wrong += results[i] != expected[i] ? 1 : 0;
    CHECK(wrong == 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's try_map gives a task that throws its error, raised with its message, and "
          "every other task its result",
          "[pool][errors]") {
  leftover_guard guard;
  {
    pool p{2};
    auto inputs = iota(20);
    inputs[5] = -5;
    inputs[12] = -12;
    auto results = p.try_map(task<checked_square>, inputs, map_options{.chunksize = 3});
    REQUIRE(results.size() == 20);
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO("task " << i);
      if (i == 5 || i == 12) {
        REQUIRE_FALSE(results[i]);
        CHECK(results[i].error().code() == task_errc::raised);
        CHECK(results[i].error().index() == i);
        CHECK(results[i].error().message() == "no square for -" + std::to_string(i) + " today");
        CHECK_THAT(std::string{results[i].error().what()}, Catch::Contains("no square for"));
        CHECK_FALSE(results[i].error().reason());
      } else {
        REQUIRE(results[i]);
        CHECK(*results[i] == static_cast<std::int32_t>(i * i));
      }
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's map throws the task_error of the first failed input once every task has "
          "ended",
          "[pool][errors]") {
  leftover_guard guard;
  {
    temp_file log;
    pool p{2};
    step proto;
    proto.fail_at = 13;
    proto.also_fail_at = 4;
    try {
      (void)p.map(task<run_step>, steps(log.path(), 30, proto), map_options{.chunksize = 2});
      FAIL("map returned");
    } catch (const task_error& e) {
      CHECK(e.code() == task_errc::raised);
      CHECK(e.index() == 4);
      CHECK(e.message() == "step 4 refused");
    }
    // Every task had run when map threw, each once.
    auto ran = count_records(log.read());
    CHECK(ran.size() == 30);
    CHECK(std::all_of(ran.begin(), ran.end(), [](auto& kv) { return kv.second == 1; }));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's starmap calls the task with the elements of each tuple", "[pool][map]") {
  leftover_guard guard;
  {
    pool p{2};
    std::vector<std::tuple<std::int32_t, std::int32_t>> pairs{{2, 10}, {3, 3}, {7, 0}, {-2, 3}};
    CHECK(p.starmap(task<power>, pairs) == std::vector<std::int32_t>{1024, 27, 1, -8});
    std::vector<std::tuple<std::string, std::int32_t>> words{{"ab", 3}, {"x", 0}, {"-", 5}};
    CHECK(p.starmap(task<repeat>, words, map_options{.chunksize = 1})
          == std::vector<std::string>{"ababab", "", "-----"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- apply and apply_async

TEST_CASE("a pool's apply returns the task's result, and apply_async's result can be waited for "
          "and polled",
          "[pool][apply]") {
  leftover_guard guard;
  {
    pool p{2};
    gate g;
    CHECK(p.apply(task<square>, 12) == 144);
    CHECK(p.apply(task<repeat>, std::string{"ha"}, 2) == "haha");

    auto r = p.apply_async(task<wait_then>, g.event(), 42);
    CHECK_FALSE(r.ready());
    CHECK_THROWS_AS(r.successful(), std::logic_error);
    CHECK_THROWS_AS(r.get(50ms), proctor::timeout_error);
    CHECK_FALSE(r.wait(10ms));
    CHECK_FALSE(r.ready());

    g.open();
    r.wait();
    CHECK(r.ready());
    CHECK(r.successful());
    CHECK(r.get() == 42);
    CHECK(r.get(1ms) == 42); // ready: no wait, no timeout

    auto failed = p.apply_async(task<checked_square>, -3);
    CHECK(failed.wait(patience));
    CHECK_FALSE(failed.successful());
    CHECK_THROWS_MATCHES(failed.get(), task_error, is_task_error(task_errc::raised, 0));
    CHECK_THROWS_WITH(failed.get(), Catch::Contains("no square for -3 today"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's apply_async runs its callback once on success, and its error callback once "
          "on failure",
          "[pool][apply]") {
  leftover_guard guard;
  {
    pool p{2};
    std::mutex mu;
    std::vector<std::string> seen;
    auto note = [&](std::string s) {
      std::lock_guard lock{mu};
      seen.push_back(std::move(s));
    };
    auto count = [&] {
      std::lock_guard lock{mu};
      return seen.size();
    };

    auto good = p.apply_async(task<square>, 9);
    good.add_callback([&](const std::int32_t& v) { note("value " + std::to_string(v)); },
                      [&](const task_error& e) { note(std::string{"error "} + e.what()); });
    auto bad = p.apply_async(task<checked_square>, -1);
    bad.add_callback([&](const std::int32_t& v) { note("value " + std::to_string(v)); },
                     [&](const task_error& e) {
                       note(std::string{"error "} + to_string(e.code()) + ": " + e.message());
                     });
    REQUIRE(eventually([&] { return count() == 2; }));

    // A callback added once the result is there runs at once, here.
    auto here = std::this_thread::get_id();
    std::thread::id ran_on;
    good.add_callback([&](const std::int32_t& v) {
      ran_on = std::this_thread::get_id();
      note("late " + std::to_string(v));
    });
    CHECK(ran_on == here);

    // Once the pool has stopped, no callback can run any more: each ran once.
    p.close();
    p.join();
    std::lock_guard lock{mu};
    std::multiset<std::string> got(seen.begin(), seen.end());
    CHECK(got == std::multiset<std::string>{"value 81", "error raised: no square for -1 today",
                                            "late 81"});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- imap and imap_unordered

TEST_CASE("a pool's imap yields the results in input order as they come, and a failed task "
          "does not end the stream",
          "[pool][imap]") {
  leftover_guard guard;
  {
    pool p{2};
    auto inputs = iota(30);
    inputs[4] = -4;
    auto s = p.imap(task<checked_square>, inputs);
    CHECK(s.size() == 30);
    for (std::size_t i = 0; i < 30; ++i) {
      INFO("task " << i);
      auto item = s.next();
      REQUIRE(item);
      CHECK(s.last_index() == i);
      if (i == 4) {
        REQUIRE_FALSE(*item);
        CHECK(item->error().code() == task_errc::raised);
        CHECK(item->error().index() == 4);
      } else {
        REQUIRE(*item);
        CHECK(**item == static_cast<std::int32_t>(i * i));
      }
    }
    CHECK_FALSE(s.next());
    CHECK_FALSE(s.next());

    // Range-for, with a chunksize.
    std::vector<std::int32_t> values;
    std::vector<std::size_t> indices;
    auto t = p.imap(task<square>, iota(25), map_options{.chunksize = 4});
    for (const auto& item : t) {
      REQUIRE(item);
      values.push_back(*item);
      indices.push_back(t.last_index());
    }
    CHECK(values == squares_of(iota(25)));
    std::vector<std::size_t> in_order(25);
    std::iota(in_order.begin(), in_order.end(), std::size_t{0});
    CHECK(indices == in_order);

    // A result that is not there yet: next(timeout) says so, and the stream goes on.
    gate g;
    auto held = p.imap(task<wait_for_gate>, std::vector<proctor::event>{g.event()});
    CHECK_THROWS_AS(held.next(50ms), proctor::timeout_error);
    g.open();
    auto one = held.next(patience);
    REQUIRE(one);
    REQUIRE(*one);
    CHECK(**one == 1);
    CHECK_FALSE(held.next());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's imap_unordered yields every input's result exactly once, in completion order",
          "[pool][imap]") {
  leftover_guard guard;
  {
    pool p{2};
    auto inputs = iota(60);
    auto s = p.imap_unordered(task<checked_square>, inputs, map_options{.chunksize = 3});
    std::vector<std::size_t> indices;
    for (const auto& item : s) {
      auto i = s.last_index();
      indices.push_back(i);
      REQUIRE(item);
      CHECK(*item == static_cast<std::int32_t>(i * i));
    }
    std::sort(indices.begin(), indices.end());
    std::vector<std::size_t> all(60);
    std::iota(all.begin(), all.end(), std::size_t{0});
    CHECK(indices == all);

    // Task 0 is held: the others, but for the few queued behind it in its worker, come first.
    gate g;
    std::vector<held> inputs_held;
    for (std::int32_t i = 0; i < 50; ++i)
      inputs_held.push_back(held{g.event(), i});
    auto t = p.imap_unordered(task<hold_zero>, inputs_held);
    std::vector<std::size_t> order;
    for (int k = 0; k < 40; ++k) {
      auto item = t.next(patience);
      REQUIRE(item);
      REQUIRE(*item);
      CHECK(**item == static_cast<std::int32_t>(t.last_index()));
      order.push_back(t.last_index());
    }
    CHECK(std::find(order.begin(), order.end(), 0) == order.end());
    g.open();
    while (auto item = t.next(patience)) {
      REQUIRE(*item);
      order.push_back(t.last_index());
    }
    std::sort(order.begin(), order.end());
    std::vector<std::size_t> fifty(50);
    std::iota(fifty.begin(), fifty.end(), std::size_t{0});
    CHECK(order == fifty);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- workers that die

TEST_CASE("a pool worker that segfaults, aborts or kills itself fails only its own task, with "
          "worker_died and its signal, and is replaced",
          "[pool][crash]") {
  auto m = GENERATE(start_method::forkserver, start_method::spawn, start_method::fork);
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    pool p{2, on(m)};
    auto first_workers = p.worker_pids();
    REQUIRE(first_workers.size() == 2);

    auto results = p.try_map(task<crash_on>, iota(20));
    REQUIRE(results.size() == 20);
    const std::map<std::size_t, int> deaths{{3, SIGSEGV}, {7, SIGABRT}, {11, SIGKILL}};
    std::set<pid_t> dead;
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO("task " << i);
      auto death = deaths.find(i);
      if (death == deaths.end()) {
        REQUIRE(results[i]);
        CHECK(*results[i] == static_cast<std::int32_t>(10 * i));
        continue;
      }
      REQUIRE_FALSE(results[i]);
      const auto& e = results[i].error();
      INFO(e.what());
      CHECK(e.code() == task_errc::worker_died);
      CHECK(e.index() == i);
      REQUIRE(e.reason());
      CHECK(e.reason()->kind == exit_kind::signal);
      CHECK(e.reason()->code == death->second);
      CHECK_THAT(std::string{e.what()}, Catch::Contains(std::to_string(death->second)));
      auto pid = pid_in(e);
      CHECK(pid > 0);
      dead.insert(pid);
    }
    CHECK(dead.size() == 3); // each death took its own worker

    // Three replacements, started before the failures were reported: the pool is back to two
    // live workers, none of them a dead one.
    CHECK(p.workers_started() == 5);
    auto workers = p.worker_pids();
    CHECK(workers.size() == p.size());
    for (auto pid : workers) {
      CHECK(alive(pid));
      CHECK_FALSE(dead.contains(pid));
    }
    for (auto pid : dead)
      CHECK_FALSE(alive(pid));

    // The replacements work.
    CHECK(p.map(task<square>, iota(10)) == squares_of(iota(10)));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool with retries runs a task whose worker died again, on another worker",
          "[pool][crash]") {
  leftover_guard guard;
  {
    pool_options o;
    o.retries = 2;
    pool p{2, o};
    temp_file attempts;
    CHECK(p.apply(task<crash_first_time>, attempts.path()) == 2); // the second attempt's count
    CHECK(attempts.read() == "xx");
    CHECK(eventually([&] { return p.workers_started() == 3 && p.worker_pids().size() == 2; }));
    CHECK(p.map(task<square>, iota(10)) == squares_of(iota(10)));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// Retried tasks come before the second always-crashing one: its attempts are its own (a count
// once kept by the job's address outlived its job and was inherited by the next job there).
TEST_CASE("a pool with retries fails a task whose worker always dies with worker_died after the "
          "last retry, however many retries other tasks took before",
          "[pool][crash]") {
  leftover_guard guard;
  {
    pool_options o;
    o.retries = 2;
    pool p{2, o};
    auto crash_always_fails = [&](const std::string& log) {
      try {
        (void)p.apply(task<crash_always>, log);
        FAIL("apply returned");
      } catch (const task_error& e) {
        INFO(e.what());
        CHECK(e.code() == task_errc::worker_died);
        REQUIRE(e.reason());
        CHECK(e.reason()->kind == exit_kind::signal);
        CHECK(e.reason()->code == SIGSEGV);
      }
    };

    temp_file first;
    crash_always_fails(first.path());
    CHECK(first.read() == "xxx"); // the attempt and two retries

    for (int i = 0; i < 5; ++i) {
      temp_file once;
      CHECK(p.apply(task<crash_first_time>, once.path()) == 2);
    }

    temp_file second;
    crash_always_fails(second.path());
    CHECK(second.read() == "xxx");

    CHECK(eventually([&] { return p.workers_started() == 13 && p.worker_pids().size() == 2; }));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool runs every other task of a map exactly once when a worker dies in the middle "
          "of a chunk",
          "[pool][crash]") {
  auto retries = GENERATE(0u, 2u);
  auto how = GENERATE(std::int32_t{sigkill}, std::int32_t{sigsegv});
  INFO("retries " << retries << ", death by signal " << signal_of(how));
  leftover_guard guard;
  {
    temp_file log;
    pool_options o;
    o.retries = retries;
    pool p{2, o};
    step proto;
    proto.crash_at = 25; // the middle of the chunk [20, 30): 20..24 are done, 26..29 not started
    proto.how = how;
    auto results = p.try_map(task<run_step>, steps(log.path(), 60, proto),
                             map_options{.chunksize = 10});
    REQUIRE(results.size() == 60);
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO("task " << i);
      if (i == 25) {
        REQUIRE_FALSE(results[i]);
        CHECK(results[i].error().code() == task_errc::worker_died);
        REQUIRE(results[i].error().reason());
        CHECK(results[i].error().reason()->code == signal_of(how));
      } else {
        REQUIRE(results[i]);
        CHECK(*results[i] == static_cast<std::int32_t>(2 * i));
      }
    }
    auto ran = count_records(log.read());
    CHECK(ran.size() == 60);
    for (auto [index, times] : ran) {
      INFO("task " << index << " ran " << times << " times");
      CHECK(times == (index == 25 ? 1 + static_cast<int>(retries) : 1));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- worker lifetimes and initializers

TEST_CASE("a pool with maxtasksperchild gives each worker at most that many tasks",
          "[pool][workers]") {
  leftover_guard guard;
  {
    pool_options o;
    o.maxtasksperchild = 3;
    pool p{2, o};
    auto pids = p.map(task<worker_pid>, iota(20), map_options{.chunksize = 1});
    REQUIRE(pids.size() == 20);
    std::map<std::int32_t, int> tasks_of;
    for (auto pid : pids)
      ++tasks_of[pid];
    for (auto [pid, n] : tasks_of) {
      INFO("worker " << pid << " ran " << n << " tasks");
      CHECK(pid != ::getpid());
      CHECK(n <= 3);
    }
    CHECK(tasks_of.size() >= 7); // 20 tasks, 3 a worker
    CHECK(p.workers_started() >= 7);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's initializer runs once in every worker, before its tasks", "[pool][workers]") {
  leftover_guard guard;
  {
    temp_file log;
    pool_options o;
    o.maxtasksperchild = 10; // replacements run it too
    o.initializer(task<tag_worker>, std::string{"ready"}, log.path());
    pool p{2, o};
    auto tags = p.map(task<tag_of_worker>, iota(40), map_options{.chunksize = 1});
    CHECK(tags == std::vector<std::string>(40, "ready/1"));
    auto pids = p.map(task<worker_pid>, iota(10), map_options{.chunksize = 1});
    p.close();
    p.join();

    auto initialized = count_records(log.read());
    CHECK(initialized.size() == p.workers_started()); // one run per worker started
    CHECK(initialized.size() >= 5);                  // 50 tasks, 10 a worker
    for (auto [pid, runs] : initialized) {
      INFO("worker " << pid);
      CHECK(runs == 1);
    }
    for (auto pid : pids)
      CHECK(initialized.contains(pid));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool whose initializer throws is not made: its constructor throws spawn_error with "
          "the initializer's message and leaves no process behind",
          "[pool][workers]") {
  leftover_guard guard;
  {
    pool_options o;
    o.initializer(task<refuse_to_start>, std::string{"no database at db.example"});
    try {
      pool p{2, o};
      FAIL("the pool was made");
    } catch (const proctor::spawn_error& e) {
      INFO(e.what());
      CHECK_THAT(std::string{e.what()}, Catch::Contains("no database at db.example"));
      CHECK(e.error().reason.kind == exit_kind::exception);
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- the ways a pool ends

TEST_CASE("a closed pool runs its queued tasks before join returns", "[pool][lifetime]") {
  leftover_guard guard;
  {
    temp_file log;
    pool p{2};
    std::vector<proctor::async_result<std::monostate>> naps;
    for (int i = 0; i < 20; ++i)
      naps.push_back(p.apply_async(task<nap_ms>, 20));
    auto s = p.imap(task<log_step>, steps(log.path(), 30));
    p.close();
    p.join();
    for (auto& r : naps) {
      CHECK(r.ready());
      CHECK(r.successful());
    }
    std::size_t ok = 0;
    while (auto item = s.next(0s))
      ok += *item ? 1 : 0;
    CHECK(ok == 30);
    CHECK(count_records(log.read()).size() == 30);
    CHECK(p.worker_pids().empty());
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool's join without close or terminate throws std::logic_error", "[pool][lifetime]") {
  leftover_guard guard;
  {
    pool p{2};
    CHECK_THROWS_AS(p.join(), std::logic_error);
    // The pool is unharmed.
    CHECK(p.map(task<square>, iota(5)) == squares_of(iota(5)));
    p.close();
    p.join();
    p.join(); // again: harmless
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a closed pool refuses new tasks with std::logic_error", "[pool][lifetime]") {
  leftover_guard guard;
  {
    pool p{2};
    p.close();
    CHECK_THROWS_AS(p.map(task<square>, iota(5)), std::logic_error);
    CHECK_THROWS_AS(p.apply_async(task<square>, 5), std::logic_error);
    CHECK_THROWS_AS(p.apply(task<square>, 5), std::logic_error);
    CHECK_THROWS_AS(p.imap(task<square>, iota(5)), std::logic_error);
    p.join();
    CHECK_THROWS_AS(p.map(task<square>, iota(5)), std::logic_error);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a terminated pool stops at once and fails the tasks that had not finished with "
          "terminated",
          "[pool][lifetime]") {
  leftover_guard guard;
  {
    pool p{2};
    // Run in full, these would take 25 s of both workers; terminate must not wait for them (the
    // test's timeout is the bound).
    auto s = p.imap(task<nap_ms>, std::vector<std::int32_t>(5000, 10), map_options{.chunksize = 1});
    auto first = s.next(patience);
    REQUIRE(first);
    CHECK(*first);
    p.terminate();
    CHECK(p.worker_pids().empty());

    // Every task has its outcome now: no wait.
    std::size_t done = 1;
    std::size_t terminated = 0;
    std::size_t other = 0;
    while (auto item = s.next(0s)) {
      if (*item)
        ++done;
      else if (item->error().code() == task_errc::terminated)
        ++terminated;
      else
        ++other;
    }
    INFO(done << " done, " << terminated << " terminated");
    CHECK(done + terminated + other == 5000);
    CHECK(other == 0);
    CHECK(terminated > 4000);
    CHECK_THROWS_AS(p.apply(task<square>, 1), std::logic_error);
    p.join(); // after terminate: returns at once
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool destroyed with tasks pending fails them with terminated and leaves no process "
          "behind",
          "[pool][lifetime]") {
  leftover_guard guard;
  {
    gate g; // shut until the pool is gone
    std::optional<proctor::result_stream<std::monostate>> s;
    std::optional<proctor::async_result<std::int32_t>> r;
    {
      pool p{2};
      r.emplace(p.apply_async(task<wait_then>, g.event(), 3));
      s.emplace(p.imap(task<nap_ms>, std::vector<std::int32_t>(2000, 10)));
      REQUIRE(s->next(patience));
    }
    REQUIRE(r->ready());
    CHECK_THROWS_MATCHES(r->get(), task_error, is_task_error(task_errc::terminated));
    std::size_t terminated = 0;
    while (auto item = s->next(0s))
      terminated += !*item && item->error().code() == task_errc::terminated ? 1 : 0;
    CHECK(terminated > 0);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

// ---- progress, nesting, start methods

TEST_CASE("a pool's map reports its progress with growing counts up to (total, total), before "
          "it returns",
          "[pool][map]") {
  leftover_guard guard;
  {
    pool p{2};
    auto calls = std::make_shared<std::vector<std::pair<std::size_t, std::size_t>>>();
    auto mu = std::make_shared<std::mutex>();
    map_options mo;
    mo.chunksize = 5;
    mo.progress = [calls, mu](std::size_t done, std::size_t total) {
      std::lock_guard lock{*mu};
      calls->emplace_back(done, total);
    };
    CHECK(p.map(task<square>, iota(100), mo) == squares_of(iota(100)));
    {
      std::lock_guard lock{*mu};
      REQUIRE_FALSE(calls->empty());
      CHECK(calls->back() == std::pair<std::size_t, std::size_t>{100, 100});
      for (std::size_t i = 0; i < calls->size(); ++i) {
        INFO("call " << i << ": " << (*calls)[i].first << "/" << (*calls)[i].second);
        CHECK((*calls)[i].second == 100);
        CHECK((*calls)[i].first >= 1);
        if (i > 0)
          CHECK((*calls)[i].first > (*calls)[i - 1].first);
      }
    }

    // The last call comes before map and try_map return, every time.
    mo.chunksize = 1;
    auto one_fails = iota(10);
    one_fails[3] = -3;
    for (int round = 0; round < 20; ++round) {
      {
        std::lock_guard lock{*mu};
        calls->clear();
      }
      if (round % 2 == 0)
        (void)p.map(task<square>, iota(10), mo);
      else
        (void)p.try_map(task<checked_square>, one_fails, mo);
      std::lock_guard lock{*mu};
      INFO("round " << round);
      REQUIRE_FALSE(calls->empty());
      CHECK(calls->back() == std::pair<std::size_t, std::size_t>{10, 10});
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a task can run a pool of its own inside a pool worker", "[pool][nested]") {
  auto m = GENERATE(start_method::forkserver, start_method::spawn);
  INFO("start method of the inner pool " << proctor::to_string(m));
  leftover_guard guard;
  {
    pool p{2};
    CHECK(p.apply(task<nested_sum>, 10, m) == 285);
    std::vector<std::tuple<std::int32_t, start_method>> sizes{{1, m}, {2, m}, {3, m}, {4, m}};
    CHECK(p.starmap(task<nested_sum>, sizes) == std::vector<std::int64_t>{0, 1, 5, 14});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a pool runs lambdas: without captures, and with captured values that travel to the "
          "workers, under every start method",
          "[pool][lambda]") {
  auto method = GENERATE(start_method::forkserver, start_method::spawn, start_method::fork);
  INFO("start method " << proctor::to_string(method));
  leftover_guard guard;
  {
    pool_options o;
    o.method = method;
    struct offset {
      std::int64_t by;
      double scale;
    };
    offset off{1000, 0.5};
    int k = 3;
    o.initializer([](int marker) { initialized_with = marker; }, 77);
    pool p{2, o};
    CHECK(p.map([](int x) { return x * x; }, std::vector{1, 2, 3}) == std::vector{1, 4, 9});
    CHECK(p.map([k](int x) { return k * x; }, std::vector{1, 2, 3}) == std::vector{3, 6, 9});
    CHECK(p.map([off](int x) { return off.by + static_cast<std::int64_t>(x * off.scale); },
                std::vector{2, 4})
          == std::vector<std::int64_t>{1001, 1002});
    CHECK(p.apply([k](int x, int y) { return k * (x + y); }, 1, 2) == 9);
    CHECK(p.apply([](int) { return initialized_with; }, 0) == 77);
    // Two lambdas of one shape in one place are two tasks: each keeps its own code.
    auto add = [k](int x) { return x + k; };
    auto sub = [k](int x) { return x - k; };
    CHECK(p.map(add, std::vector{10}) == std::vector{13});
    CHECK(p.map(sub, std::vector{10}) == std::vector{7});
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a fork pool's workers, replacements too, are copies of the process as it was when the "
          "pool was made",
          "[pool][start_method]") {
  leftover_guard guard;
  {
    process_mark = 7;
    pool p{2, on(start_method::fork)};
    process_mark = 8; // after the pool was made: no worker sees it
    CHECK(p.map(task<mark_of_worker>, iota(20), map_options{.chunksize = 1})
          == std::vector<std::int32_t>(20, 7));
    auto crashed = p.try_map(task<crash_on>, std::vector<std::int32_t>{3, 11});
    CHECK_FALSE(crashed[0]);
    CHECK_FALSE(crashed[1]);
    CHECK(p.workers_started() == 4);
    CHECK(p.worker_pids().size() == 2);
    CHECK(p.map(task<mark_of_worker>, iota(20), map_options{.chunksize = 1})
          == std::vector<std::int32_t>(20, 7));
    process_mark = 0;
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a fork pool made while the process runs other threads, another pool's included, "
          "refuses with process_error and leaves no process behind",
          "[pool][start_method]") {
  leftover_guard guard;
  {
    auto refused = [](const char* why) {
      INFO(why);
      try {
        pool p{2, on(start_method::fork)};
        FAIL("a pool with fork started");
      } catch (const proctor::process_error& e) {
        INFO(e.what());
        CHECK(e.code() == proctor::process_errc::multithreaded);
        CHECK_THAT(std::string{e.what()}, Catch::Contains("fork"));
      }
    };
    {
      busy_thread busy;
      refused("another thread runs");
    }
    {
      pool other{1};
      refused("another pool's thread runs");
      CHECK(other.map(task<square>, iota(3)) == squares_of(iota(3)));
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
