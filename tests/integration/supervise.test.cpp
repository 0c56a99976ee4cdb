// The supervise program, run as a user would: a tree file in, a tree of processes running,
// crash reports and an ordered stop out. PROCTOR_SUPERVISE_BIN and PROCTOR_EXAMPLES_DIR come from
// the build (tests/integration/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

extern char** environ;

using namespace std::chrono_literals;
using namespace proctor::test;

namespace supervise_test {

const std::string examples = PROCTOR_EXAMPLES_DIR;

/// A supervise process with its standard output and error in files.
class supervise_run {
 public:
  explicit supervise_run(std::vector<std::string> args) {
    std::vector<std::string> argv_s{PROCTOR_SUPERVISE_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    // A program of its own: it must not join this test runner's name registry.
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "PROCTOR_", 8) != 0)
        env.push_back(*e);
    env.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out_.path().c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_.path().c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), env.data());
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0)
      throw std::runtime_error(std::string{"cannot start supervise: "} + std::strerror(rc));
  }

  ~supervise_run() {
    if (!status_) { // a failed test: leave nothing running
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  supervise_run(const supervise_run&) = delete;
  supervise_run& operator=(const supervise_run&) = delete;

  /// Its exit status (-N for a signal), or nullopt if it still runs after `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit = 60s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!status_) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_)
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      else if (std::chrono::steady_clock::now() >= deadline)
        break;
      else
        std::this_thread::sleep_for(10ms);
    }
    return status_;
  }

  /// Waits until its standard output (or error) holds `text`; false if it ended or `limit`
  /// passed first.
  bool wait_for_output(const std::string& text, bool in_stderr = false,
                       std::chrono::milliseconds limit = 60s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if ((in_stderr ? err() : out()).find(text) != std::string::npos)
        return true;
      int st = 0;
      if (status_ || std::chrono::steady_clock::now() >= deadline)
        return false;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        continue; // one last look at what it wrote
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  void signal(int sig) const { ::kill(pid_, sig); }
  [[nodiscard]] std::string out() const { return out_.read(); }
  [[nodiscard]] std::string err() const { return err_.read(); }

 private:
  temp_file out_;
  temp_file err_;
  pid_t pid_ = 0;
  std::optional<int> status_;
};

/// A tree file with `text`, removed at the end of the test.
class tree_file {
 public:
  explicit tree_file(const std::string& text) { std::ofstream{file_.path()} << text; }
  [[nodiscard]] const std::string& path() const { return file_.path(); }

 private:
  temp_file file_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace supervise_test

using namespace supervise_test;

TEST_CASE("supervise runs the flat example and stops it in order", "[supervise]") {
  leftover_guard guard;
  {
    supervise_run run{{"--for", "1", examples + "/flat.toml"}};
    auto status = run.wait();
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    REQUIRE(status == 0);
    CHECK(contains(run.out(), "started <actor flat"));
    CHECK(contains(run.out(), "monkey-clock"));
    CHECK(contains(run.out(), "ran for 1 s: stopping the tree in order"));
    CHECK(contains(run.out(), "the tree stopped in order"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("supervise prints crash reports as they happen and stops in order on SIGINT",
          "[supervise]") {
  leftover_guard guard;
  {
    tree_file tree{R"(
name = "crashy"
intensity = 100
period = "10s"
[[child]]
id = "log"
actor = "logger"
[[child]]
id = "pool"
[child.supervisor]
strategy = "one_for_all"
intensity = 100
[[child.supervisor.child]]
id = "monkey"
actor = "crasher"
args = [2, "SIGSEGV", 0.0]
[[child.supervisor.child]]
id = "clock"
actor = "ticker"
args = ["monkey", 20]
)"};
    supervise_run run{{tree.path()}};
    // A crash in the nested supervisor: supervise follows nested supervisors too.
    REQUIRE(run.wait_for_output("pool/monkey"));
    run.signal(SIGINT);
    auto status = run.wait();
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    REQUIRE(status == 0);
    auto out = run.out();
    CHECK(contains(out, "ended: signal 11 (SIGSEGV), handling a proctor.actors.tick; restart"));
    CHECK(contains(out, "SIGINT: stopping the tree in order"));
    CHECK(contains(out, "the tree stopped in order"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a second SIGINT kills a tree whose ordered stop takes long", "[supervise]") {
  leftover_guard guard;
  {
    // The crasher hangs in a handler: it cannot act on SIGTERM, and its shutdown allows a minute.
    tree_file tree{R"(
[[child]]
id = "stuck"
actor = "crasher"
args = [1, "hang", 0.0]
shutdown = "60s"
[[child]]
id = "clock"
actor = "ticker"
args = ["stuck", 10]
)"};
    supervise_run run{{tree.path()}};
    REQUIRE(run.wait_for_output("hang, as asked", true));
    run.signal(SIGINT);
    REQUIRE(run.wait_for_output("stopping the tree in order"));
    run.signal(SIGINT);
    auto status = run.wait(30s);
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    REQUIRE(status == 1);
    CHECK(contains(run.out(), "a second SIGINT: killing the tree"));
    CHECK(contains(run.out(), "the tree was killed"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("SIGTERM stops a tree in order, as SIGINT does", "[supervise]") {
  leftover_guard guard;
  {
    supervise_run run{{examples + "/nested.toml"}};
    REQUIRE(run.wait_for_output("sleepy-clock"));
    run.signal(SIGTERM);
    auto status = run.wait();
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    REQUIRE(status == 0);
    CHECK(contains(run.out(), "SIGTERM: stopping the tree in order"));
    CHECK(contains(run.out(), "the tree stopped in order"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("supervise --check accepts both examples and starts nothing", "[supervise]") {
  leftover_guard guard;
  for (const char* name : {"/flat.toml", "/nested.toml"}) {
    supervise_run run{{"--check", examples + name}};
    auto status = run.wait();
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    CHECK(status == 0);
    CHECK(contains(run.out(), ": ok: "));
    CHECK_FALSE(contains(run.out(), "pid"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a bad tree file is an error that names the line, the column and the key",
          "[supervise]") {
  struct bad_case {
    const char* text;
    std::string expected; // after "<file>:"
  };
  const bad_case cases[] = {
    {"[[child]]\nid = \"a\"\nactor = \"logger\"\nrestart = \"sometimes\"\n",
     R"(4:11: child[0].restart: expected one of "permanent", "transient", "temporary", not the string "sometimes")"},
    {"[[child]]\nid = \"a\"\nactor = \"logger\"\nrestrat = \"permanent\"\n",
     "4:1: child[0].restrat: unknown key (did you mean 'restart'?); a child takes id, actor, "
     "args,"},
    {"[[child]]\nid = \"a\"\nactor = \"loger\"\n",
     "3:9: child[0].actor: no actor named 'loger' in the catalog (known: crasher, logger, "
     "prime_worker, "
     "state_store, ticker)"},
    {"[[child]]\nid = \"t\"\nactor = \"ticker\"\nargs = [\"log\", \"fast\"]\n",
     "4:16: child[0].args[1]: actor 'ticker', argument 2 (int64): expected an integer, not the "
     "string \"fast\""},
    {"[[child]]\nid = \"t\"\nactor = \"ticker\"\nargs = [\"log\"]\n",
     "4:8: child[0].args: actor 'ticker' takes 2 arguments (string, int64), not 1"},
    {"[[child]]\nid = \"a\"\nactor = \"logger\"\n[[child]]\nid = \"a\"\nactor = \"logger\"\n",
     "5:6: child[1].id: the id \"a\" is already used by a sibling on line 2"},
    {"period = 5\n",
     "1:10: period: expected a duration with its unit, such as \"500ms\", \"2s\" or \"1m\", not "
     "the integer 5"},
    {"[[child]]\nid = \"p\"\n[child.supervisor]\nstrategy = \"one_for_none\"\n",
     "4:12: child[0].supervisor.strategy: expected one of \"one_for_one\""},
    {"[[child]]\nid = \"p\"\n[child.supervisor]\n[[child.supervisor.child]]\nid = \"w\"\nactor = "
     "\"logger\"\n"
     "limits = { memory = \"lots\" }\n",
     "7:21: child[0].supervisor.child[0].limits.memory: expected a size"},
    {"[[child]]\nid = \"a\"\nactor = \"logger\"\nstandby = \"yes\"\n",
     "4:11: child[0].standby: expected true or false, not the string \"yes\""},
    {"[[child]]\nid = \"a\"\n",
     "1:1: child[0]: missing: a child needs an actor (a catalog name) or a "
     "supervisor table"},
    {"dead_letters_kept = 0\n",
     "1:21: dead_letters_kept: expected an integer from 1 to 4294967295, not the integer 0"},
    {"name = \"x\"\nname = \"y\"\n", "2:8: not valid TOML: "},
  };
  leftover_guard guard;
  for (const auto& c : cases) {
    tree_file tree{c.text};
    supervise_run run{{"--check", tree.path()}};
    auto status = run.wait();
    INFO("file:\n" << c.text << "\nstderr:\n" << run.err());
    CHECK(status == 2);
    CHECK(contains(run.err(), "supervise: error: " + tree.path() + ":" + c.expected));
    CHECK(run.out().empty());
  }
  // Without --check, the same mistake starts nothing either.
  tree_file tree{cases[0].text};
  supervise_run run{{tree.path()}};
  CHECK(run.wait() == 2);
  CHECK(contains(run.err(), "child[0].restart"));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a tree whose child cannot start is an error, and leaves nothing behind", "[supervise]") {
  leftover_guard guard;
  {
    tree_file tree{
      "[[child]]\nid = \"log\"\nactor = \"logger\"\n"
      "[[child]]\nid = \"bad\"\nactor = \"crasher\"\nargs = [1, \"SIGNOPE\", 0.0]\n"};
    supervise_run run{{tree.path()}};
    auto status = run.wait();
    INFO("stdout:\n" << run.out() << "\nstderr:\n" << run.err());
    CHECK(status == 1);
    CHECK(contains(run.err(), "supervise: the tree did not start: "));
    CHECK(contains(run.err(), "'SIGNOPE' is not a signal name"));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("supervise rejects a bad command line with its usage", "[supervise]") {
  for (std::vector<std::string> args : {std::vector<std::string>{},
                                        {"--for", "soon", "x.toml"},
                                        {"--frobnicate", "x.toml"},
                                        {"a.toml", "b.toml"}}) {
    supervise_run run{args};
    CHECK(run.wait() == 2);
    CHECK(contains(run.err(), "usage: supervise"));
  }
  supervise_run list{{"--list"}};
  CHECK(list.wait() == 0);
  CHECK(contains(list.out(), "ticker(string, int64)"));
}
