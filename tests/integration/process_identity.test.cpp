#include <catch2/catch.hpp>

#include <unistd.h>

#include <sstream>
#include <string>

#include <proctor/proctor.hpp>

#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace proctor::test;
using proctor::entry;
using proctor::process;

namespace {

struct identity {
  std::string name;
  pid_t pid = 0;
  std::string parent_name;
  pid_t parent_pid = 0;
  bool daemon = false;
  pid_t getpid = 0;
};

identity parse_identity(const std::string& text) {
  std::istringstream in(text);
  identity id;
  std::getline(in, id.name);
  in >> id.pid;
  in.ignore();
  std::getline(in, id.parent_name);
  in >> id.parent_pid >> id.daemon >> id.getpid;
  return id;
}

} // namespace

TEST_CASE("the main process is named main-process and has no parent", "[identity]") {
  CHECK(proctor::current_process().name == "main-process");
  CHECK(proctor::current_process().pid == ::getpid());
  CHECK_FALSE(proctor::parent_process());
  CHECK(proctor::cpu_count() >= 1);
}

TEST_CASE("a child knows its name, pid, daemon flag and parent", "[identity]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  temp_file out;
  auto p = proctor::get_context(m).make_process(process::options{.name = "scout", .daemon = true},
                                                entry<probe_identity>, out.path());
  CHECK(p.name() == "scout");
  CHECK(p.daemon());
  p.start();
  p.join();
  REQUIRE(p.exitcode() == 0);
  auto id = parse_identity(out.read());
  CHECK(id.name == "scout");
  CHECK(id.pid == *p.pid());
  CHECK(id.getpid == *p.pid());
  CHECK(id.daemon);
  CHECK(id.parent_name == "main-process");
  CHECK(id.parent_pid == ::getpid());
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("unnamed children are numbered process-N in creation order", "[identity]") {
  auto a = process{entry<probe_return>};
  auto b = process{entry<probe_return>};
  REQUIRE(a.name().rfind("process-", 0) == 0);
  REQUIRE(b.name().rfind("process-", 0) == 0);
  CHECK(std::stoi(b.name().substr(8)) == std::stoi(a.name().substr(8)) + 1);
}

namespace {

void nested_identity(std::string path) {
  process grandchild{entry<probe_identity>, path};
  grandchild.start();
  grandchild.join();
  proctor::exit(grandchild.exitcode().value_or(99));
}

} // namespace

TEST_CASE("a grandchild is named below its parent and knows it", "[identity]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  temp_file out;
  auto p = proctor::get_context(m).make_process(process::options{.name = "middle"},
                                                entry<nested_identity>, out.path());
  p.start();
  p.join();
  REQUIRE(p.exitcode() == 0);
  auto id = parse_identity(out.read());
  CHECK(id.parent_name == "middle");
  CHECK(id.parent_pid == *p.pid());
  CHECK(id.name.find(':') != std::string::npos); // "process-N:1"
  REQUIRE_NO_LEFTOVERS(guard);
}
