#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/descriptors.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_ref;

// -- messages ----------------------------------------------------------------------------------

/// Answered with whereis(name), as the actor's process sees it.
struct rg_lookup {
  std::string name;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rg_lookup& x) {
  return f(caf::meta::type_name("rg_lookup"), x.name);
}
PROCTOR_MESSAGE(rg_lookup, "test.registry.lookup");

/// Asks the actor to send rg_hello to whatever whereis(name) finds; answered with whether it did.
struct rg_greet {
  std::string name;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rg_greet& x) {
  return f(caf::meta::type_name("rg_greet"), x.name);
}
PROCTOR_MESSAGE(rg_greet, "test.registry.greet");

struct rg_hello {
  std::int32_t from_pid;
};
PROCTOR_MESSAGE(rg_hello, "test.registry.hello");

struct rg_quit {};
PROCTOR_MESSAGE(rg_quit, "test.registry.quit");

struct rg_ref {
  actor_ref ref;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rg_ref& x) {
  return f(caf::meta::type_name("rg_ref"), x.ref);
}
PROCTOR_MESSAGE(rg_ref, "test.registry.ref");

// -- the actor ---------------------------------------------------------------------------------

namespace registry {

/// Registers itself under `name` in init (if not empty), looks names up on request.
class named {
 public:
  named(proctor::actor& self, std::string name) : self_(self), name_(std::move(name)) {}

  void init() {
    if (!name_.empty() && !proctor::register_name(name_, self_.ref()))
      throw std::runtime_error("the name " + name_ + " is taken");
  }

  proctor::behavior make_behavior() {
    return {pid_handler(),
            [](const rg_lookup& l) { return rg_ref{proctor::whereis(l.name)}; },
            [this](const rg_greet& g) {
              auto to = proctor::whereis(g.name);
              return to && self_.send(to, rg_hello{static_cast<std::int32_t>(::getpid())});
            },
            [this](const rg_quit&) { self_.quit(); }};
  }

 private:
  proctor::actor& self_;
  std::string name_;
};

/// Looks `name` up with no file descriptor to spare, in a spawned process that has not mapped the
/// node's registry yet, then again with its limit back. Exit code 0: the first look threw
/// shm_error(system) and the second found the name; 1: the first answered (from no registry, or
/// one of its own); 2: it threw another error; 3: the second did not find the name.
void look_up_without_descriptors(std::string name) {
  proctor::test::descriptor_limit none_spare;
  int code = 1;
  try {
    (void)proctor::whereis(name);
  } catch (const proctor::shm_error& e) {
    code = e.code() == proctor::shm_errc::system ? 0 : 2;
  }
  none_spare.restore();
  if (code == 0 && !proctor::whereis(name))
    code = 3;
  proctor::exit(code);
}

} // namespace registry

namespace {

/// A name no other test (or concurrent test program) uses.
std::string unique_name(const std::string& stem) {
  return "test." + stem + "." + std::to_string(::getpid());
}

} // namespace

TEST_CASE("a name an actor registers in its process is found by its parent", "[actor][registry]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto name = unique_name("child-registers");
    auto a = proctor::spawn<registry::named>(on(m, "named"), name);
    auto found = proctor::whereis(name);
    CHECK(found == a);
    // The found ref works like the one spawn returned.
    CHECK(pid_of(self, found) == pid_of(self, a));
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a name the parent registers is found by an actor in another process",
          "[actor][registry]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto name = unique_name("parent-registers");
    REQUIRE(proctor::register_name(name, self.ref()));
    auto a = proctor::spawn<registry::named>(on(m, "looker"), std::string{});
    auto seen = self.request<rg_ref>(a, patience, rg_lookup{name});
    REQUIRE(seen);
    CHECK(seen->ref == self.ref());
    auto greeted = self.request<bool>(a, patience, rg_greet{name});
    REQUIRE(greeted);
    CHECK(*greeted);
    std::int32_t from = 0;
    REQUIRE(self.receive(patience, [&](const rg_hello& h) { from = h.from_pid; }));
    CHECK(from == pid_of(self, a));
    CHECK(proctor::unregister_name(name));
    seen = self.request<rg_ref>(a, patience, rg_lookup{name});
    REQUIRE(seen);
    CHECK_FALSE(seen->ref);
    stop(self, a);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a name is released when its actor ends", "[actor][registry]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto name = unique_name("released");
    SECTION("the actor quits") {
      auto a = proctor::spawn<registry::named>(on(proctor::start_method::fork, "named"), name);
      REQUIRE(proctor::whereis(name) == a);
      auto mon = self.monitor(a);
      REQUIRE(self.send(a, rg_quit{}));
      REQUIRE(wait_down(self, mon));
      CHECK_FALSE(proctor::whereis(name));
    }
    SECTION("the actor is killed") {
      auto a = proctor::spawn<registry::named>(on(proctor::start_method::fork, "named"), name);
      REQUIRE(proctor::whereis(name) == a);
      stop(self, a);
      CHECK_FALSE(proctor::whereis(name));
    }
    SECTION("a scoped actor is destroyed") {
      {
        proctor::scoped_actor temporary{"temporary"};
        REQUIRE(proctor::register_name(name, temporary.ref()));
        REQUIRE(proctor::whereis(name) == temporary.ref());
      }
      CHECK_FALSE(proctor::whereis(name));
    }
    // Free for the next one.
    auto b = proctor::spawn<registry::named>(on(proctor::start_method::fork, "named-again"), name);
    CHECK(proctor::whereis(name) == b);
    stop(self, b);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("registering a name that a live actor holds fails", "[actor][registry]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    proctor::scoped_actor other{"other"};
    auto name = unique_name("taken");
    REQUIRE(proctor::register_name(name, self.ref()));
    CHECK_FALSE(proctor::register_name(name, other.ref()));
    CHECK(proctor::whereis(name) == self.ref());
    // Also from another process: an actor whose init registers the taken name fails to start.
    CHECK_THROWS_AS(proctor::spawn<registry::named>(on(proctor::start_method::fork, "dup"), name),
                    proctor::spawn_error);
    CHECK(proctor::whereis(name) == self.ref());
    CHECK(proctor::unregister_name(name));
    CHECK_FALSE(proctor::unregister_name(name));
    CHECK(proctor::register_name(name, other.ref()));
    CHECK(proctor::whereis(name) == other.ref());
    CHECK(proctor::unregister_name(name));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("actor names that are empty or longer than 55 bytes are refused with invalid_argument",
          "[actor][registry]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    CHECK_THROWS_AS(proctor::register_name("", self.ref()), std::invalid_argument);
    CHECK_THROWS_AS(proctor::register_name(std::string(56, 'n'), self.ref()),
                    std::invalid_argument);
    CHECK_THROWS_AS(proctor::whereis(""), std::invalid_argument);
    CHECK_THROWS_AS(proctor::whereis(std::string(56, 'n')), std::invalid_argument);
    CHECK_THROWS_AS(proctor::unregister_name(""), std::invalid_argument);
    CHECK_THROWS_AS(proctor::register_name("test.registry.empty-ref", proctor::actor_ref{}),
                    std::invalid_argument);
    // 55 bytes is fine.
    auto longest = unique_name("x");
    longest.resize(55, 'n');
    CHECK(proctor::register_name(longest, self.ref()));
    CHECK(proctor::whereis(longest) == self.ref());
    CHECK(proctor::unregister_name(longest));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a process that cannot map the node's registry (out of file descriptors) is told so, "
          "and never answers from a registry of its own",
          "[actor][registry][hostile]") {
  leftover_guard guard;
  {
    proctor::scoped_actor self;
    auto name = unique_name("starved");
    REQUIRE(proctor::register_name(name, self.ref()));
    auto looker = proctor::get_context(proctor::start_method::spawn)
                    .make_process(proctor::entry<registry::look_up_without_descriptors>, name);
    looker.start();
    REQUIRE(looker.join(patience));
    CHECK(looker.exitcode() == 0);
    CHECK(proctor::unregister_name(name));
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
