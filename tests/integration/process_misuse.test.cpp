#include <catch2/catch.hpp>

#include <chrono>

#include <proctor/proctor.hpp>

#include "support/error_matchers.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::entry;
using proctor::process;
using proctor::process_errc;
using proctor::process_error;

TEST_CASE("starting a process twice is an error", "[misuse]") {
  leftover_guard guard;
  process p{entry<probe_return>};
  p.start();
  CHECK_THROWS_MATCHES(p.start(), process_error, has_code(process_errc::misuse));
  p.join();
  CHECK_THROWS_MATCHES(p.start(), process_error, has_code(process_errc::misuse));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("joining, signalling or polling the sentinel before start is an error", "[misuse]") {
  process p{entry<probe_return>};
  CHECK_THROWS_MATCHES(p.join(), process_error, has_code(process_errc::misuse));
  CHECK_THROWS_MATCHES(p.join(10ms), process_error, has_code(process_errc::misuse));
  CHECK_THROWS_MATCHES(p.terminate(), process_error, has_code(process_errc::misuse));
  CHECK_THROWS_MATCHES(p.kill(), process_error, has_code(process_errc::misuse));
  CHECK_THROWS_MATCHES((void)p.sentinel(), process_error, has_code(process_errc::misuse));
}

TEST_CASE("closing a running process is an error, and after close every use is", "[misuse]") {
  leftover_guard guard;
  process p{entry<probe_sleep_ms>, 60'000};
  p.start();
  CHECK_THROWS_MATCHES(p.close(), process_error, has_code(process_errc::misuse));
  CHECK(p.is_alive()); // the failed close changed nothing
  p.kill();
  p.join();
  p.close();
  p.close(); // closing twice is harmless, as in Python
  CHECK_THROWS_MATCHES(p.is_alive(), process_error, has_code(process_errc::closed));
  CHECK_THROWS_MATCHES(p.join(), process_error, has_code(process_errc::closed));
  CHECK_THROWS_MATCHES((void)p.pid(), process_error, has_code(process_errc::closed));
  CHECK_THROWS_MATCHES((void)p.exitcode(), process_error, has_code(process_errc::closed));
  CHECK_THROWS_MATCHES(p.start(), process_error, has_code(process_errc::closed));
  CHECK_THROWS_MATCHES((void)p.sentinel(), process_error, has_code(process_errc::closed));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("the daemon flag cannot change after start", "[misuse]") {
  leftover_guard guard;
  process p{entry<probe_return>};
  p.daemon(true);
  p.start();
  CHECK_THROWS_MATCHES(p.daemon(false), process_error, has_code(process_errc::misuse));
  p.join();
  CHECK(p.daemon());
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("only the process that started a child may join it", "[misuse]") {
  leftover_guard guard;
  process sibling{entry<probe_sleep_ms>, 60'000};
  sibling.start();
  // A forked child holds a copy of the handle; using it there is refused.
  process p{process::options{.method = proctor::start_method::fork}, [&] {
              try {
                sibling.join(10ms);
              } catch (const process_error& e) {
                proctor::exit(e.code() == process_errc::misuse ? 0 : 2);
              }
              proctor::exit(3);
            }};
  p.start();
  p.join();
  CHECK(p.exitcode() == 0);
  sibling.kill();
  sibling.join();
  REQUIRE_NO_LEFTOVERS(guard);
}
