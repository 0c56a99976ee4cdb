#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using namespace std::chrono_literals;
using proctor::entry;
using proctor::process;
using proctor::process_errc;
using proctor::process_error;
using proctor::start_method;

namespace {

/// Keeps one extra thread alive for its lifetime.
class extra_thread {
 public:
  extra_thread()
    : thread_([this] {
        std::unique_lock lock{mu_};
        cv_.wait(lock, [this] { return stop_; });
      }) {}
  ~extra_thread() {
    {
      std::lock_guard lock{mu_};
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

/// A global of the program: what every new run of it starts with.
int program_marker = 3;

void exit_with_marker() {
  proctor::exit(program_marker);
}

/// Changes the marker, starts a forkserver child of its own and ends as that child ended.
void change_marker_then_start_child() {
  program_marker = 77;
  auto p = proctor::get_context(start_method::forkserver).make_process(entry<exit_with_marker>);
  p.start();
  p.join();
  proctor::exit(p.exitcode().value_or(100));
}

/// True if this process holds a pidfd of process `pid` (/proc/self/fdinfo names it).
bool holds_pidfd_of(pid_t pid) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fdinfo", ec)) {
    std::ifstream info{entry.path()};
    std::string line;
    while (std::getline(info, line))
      if (line.rfind("Pid:", 0) == 0 && std::atoi(line.c_str() + 4) == pid)
        return true;
  }
  return false;
}

/// Under fork: starts a forkserver child, which needs a zygote of this process's own (its
/// parent's, `parents_zygote`, is not its to use). Ends with 0 if that child ran and the zygote
/// is new, and the parent's zygote's pidfd was not inherited; otherwise with the code of the
/// first thing that failed.
void start_through_own_zygote(int parents_zygote) {
  if (holds_pidfd_of(parents_zygote))
    proctor::exit(2);
  auto p = proctor::get_context(start_method::forkserver).make_process(entry<probe_exit>, 7);
  p.start();
  if (!p.join(60s)) {
    p.kill();
    p.join();
    proctor::exit(3);
  }
  if (p.exitcode() != 7)
    proctor::exit(4);
  pid_t mine = proctor::forkserver_pid();
  proctor::exit(mine <= 0 ? 5 : mine == parents_zygote ? 6 : 0);
}

} // namespace

TEST_CASE("a forked child starts its forkserver children through a zygote of its own and its "
          "parent's zygote goes on serving the parent",
          "[start_method]") {
  leftover_guard guard;
  auto forkserver = proctor::get_context(start_method::forkserver);
  auto first = forkserver.make_process(entry<probe_exit>, 3);
  first.start();
  REQUIRE(first.join(60s));
  REQUIRE(first.exitcode() == 3);
  pid_t zygote = proctor::forkserver_pid();
  REQUIRE(zygote > 0);
  auto child = proctor::get_context(start_method::fork)
                 .make_process(entry<start_through_own_zygote>, static_cast<int>(zygote));
  child.start();
  if (!child.join(60s)) {
    child.kill();
    child.join();
    FAIL("the forked child did not end within 60 s");
  }
  CHECK(child.exitcode() == 0);
  auto after = forkserver.make_process(entry<probe_exit>, 5);
  after.start();
  REQUIRE(after.join(60s));
  CHECK(after.exitcode() == 5);
  CHECK(proctor::forkserver_pid() == zygote);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child's forkserver children start from the program as init() left it, not from a "
          "copy of the child",
          "[start_method]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method of the child " << proctor::to_string(m));
  leftover_guard guard;
  auto p = proctor::get_context(m).make_process(entry<change_marker_then_start_child>);
  p.start();
  REQUIRE(p.join(60s));
  CHECK(p.exitcode() == 3);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("fork is refused while the process runs other threads", "[start_method]") {
  leftover_guard guard;
  extra_thread busy;
  auto p = proctor::get_context(start_method::fork).make_process(entry<probe_return>);
  CHECK_THROWS_MATCHES(p.start(), process_error, has_code(process_errc::multithreaded));
  CHECK_FALSE(p.is_alive());
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("forkserver and spawn work while the process runs other threads", "[start_method]") {
  auto m = GENERATE(start_method::spawn, start_method::forkserver);
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  extra_thread busy;
  auto p = proctor::get_context(m).make_process(entry<probe_exit>, 5);
  p.start();
  p.join();
  CHECK(p.exitcode() == 5);
  REQUIRE_NO_LEFTOVERS(guard);
}

/// 0 if the variable PROCTOR_TEST_SETTING holds `value` and the working directory is `dir`; 1 if
/// the variable differs, 2 if the directory does.
void check_setting(std::string value, std::string dir) {
  const char* got = std::getenv("PROCTOR_TEST_SETTING");
  if (got == nullptr || value != got)
    proctor::exit(1);
  char here[4096];
  if (::getcwd(here, sizeof here) == nullptr || dir != here)
    proctor::exit(2);
  proctor::exit(0);
}

TEST_CASE("fork and spawn children start in the parent's current directory and environment and "
          "forkserver children in the zygote's as in Python",
          "[start_method]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  char here[4096];
  REQUIRE(::getcwd(here, sizeof here) != nullptr);
  char made[] = "/tmp/proctor-cwd-XXXXXX";
  REQUIRE(::mkdtemp(made) != nullptr);
  char resolved[4096]; // what getcwd() says there, should /tmp be a link
  REQUIRE(::realpath(made, resolved) != nullptr);
  REQUIRE(::chdir(made) == 0);
  ::setenv("PROCTOR_TEST_SETTING", "set after init", 1);
  auto p = proctor::get_context(m).make_process(entry<check_setting>,
                                                std::string{"set after init"},
                                                std::string{resolved});
  std::string trouble;
  try {
    p.start();
    p.join();
  } catch (const std::exception& e) {
    trouble = e.what();
  }
  ::unsetenv("PROCTOR_TEST_SETTING");
  CHECK(::chdir(here) == 0);
  CHECK(::rmdir(made) == 0);
  CHECK(trouble == "");
  if (m == start_method::forkserver)
    CHECK(p.exitcode() == 1); // the zygote's environment, which never had the variable
  else
    CHECK(p.exitcode() == 0);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a child starts while its parent's stdout is closed", "[start_method]") {
  // Under forkserver and spawn the parent hands its stdout and stderr to the zygote with each
  // request; with one of them closed there is nothing to hand (and the descriptors the start
  // opens may take its number), and the child still starts.
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  REQUIRE(saved >= 0);
  ::close(STDOUT_FILENO);
  std::string trouble;
  std::optional<int> code;
  {
    auto p = proctor::get_context(m).make_process(entry<probe_exit>, 6);
    try {
      p.start();
      p.join();
      code = p.exitcode();
    } catch (const std::exception& e) {
      trouble = e.what();
    }
  } // its descriptors closed: none of them is left on number 1
  ::dup2(saved, STDOUT_FILENO); // before any check: Catch reports on stdout
  ::close(saved);
  CHECK(trouble == "");
  CHECK(code == 6);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a plain callable runs under fork and is refused by spawn and forkserver",
          "[start_method]") {
  leftover_guard guard;
  int captured = 11;
  auto forked = proctor::get_context(start_method::fork).make_process([captured] {
    proctor::exit(captured);
  });
  forked.start();
  forked.join();
  CHECK(forked.exitcode() == 11);
  for (auto m : {start_method::spawn, start_method::forkserver}) {
    auto p = proctor::get_context(m).make_process([] {});
    CHECK_THROWS_MATCHES(p.start(), process_error, has_code(process_errc::not_crossable));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a registered entry carries large arguments intact", "[start_method]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  std::string payload(3 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i * 31 + (i >> 9));
  auto p = proctor::get_context(m).make_process(entry<probe_check_payload>, payload,
                                                payload.size(), checksum(payload));
  p.start();
  p.join();
  CHECK(p.exitcode() == 0);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("threads may start children concurrently", "[start_method]") {
  auto m = GENERATE(start_method::spawn, start_method::forkserver);
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto p = proctor::get_context(m).make_process(entry<probe_exit>, t * 10 + i);
        p.start();
        p.join();
        if (p.exitcode() == t * 10 + i)
          ++good;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(good == 40);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the default start method applies to processes that do not choose one",
          "[start_method]") {
  leftover_guard guard;
  proctor::set_start_method(start_method::spawn);
  process p{entry<probe_exit>, 4};
  CHECK(p.method() == start_method::spawn);
  proctor::set_start_method(start_method::forkserver);
  CHECK(p.method() == start_method::forkserver); // not chosen yet: follows the default
  p.start();
  p.join();
  CHECK(p.exitcode() == 4);
  CHECK(p.method() == start_method::forkserver);
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("fork right after the last other thread was joined is allowed", "[start_method]") {
  leftover_guard guard;
  for (int i = 0; i < 200; ++i) {
    std::thread{[] {}}.join();
    auto p = proctor::get_context(start_method::fork).make_process(entry<probe_return>);
    REQUIRE_NOTHROW(p.start());
    p.join();
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
