#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "actor_support.hpp"
#include "support/leftovers.hpp"
#include "support/probe.hpp"

using namespace std::chrono_literals;
using namespace proctor::test;
using proctor::actor_errc;
using proctor::actor_error;
using proctor::exit_kind;

// -- messages ----------------------------------------------------------------------------------

struct rq_add {
  std::int32_t a;
  std::int32_t b;
};
PROCTOR_MESSAGE(rq_add, "test.request.add");

struct rq_divide {
  std::int32_t a;
  std::int32_t b;
};
PROCTOR_MESSAGE(rq_divide, "test.request.divide");

/// Registered, but no behavior handles it.
struct rq_unknown {};
PROCTOR_MESSAGE(rq_unknown, "test.request.unknown");

/// Never answered: the handler takes a promise and drops it.
struct rq_never {};
PROCTOR_MESSAGE(rq_never, "test.request.never");

/// 0: throw `why`; 1: SIGSEGV; 2: quit normally without answering (a promise never kept).
struct rq_fail {
  std::int32_t how;
  char why[32];
};
PROCTOR_MESSAGE(rq_fail, "test.request.fail");

/// Answered `n * 2` after `ms`, through a response_promise (delivered twice: the second is void).
struct rq_later {
  std::int32_t n;
  std::int32_t ms;
};
PROCTOR_MESSAGE(rq_later, "test.request.later");

/// Answered with a string of `n` bytes.
struct rq_big {
  std::int32_t n;
};
PROCTOR_MESSAGE(rq_big, "test.request.big");

/// Answered with an error after `ms`, through a response_promise.
struct rq_later_error {
  std::int32_t ms;
};
PROCTOR_MESSAGE(rq_later_error, "test.request.later_error");

/// For the asker: request `what` from `calc` with .then(), answer with what came back.
/// what: 0 rq_add{a, b} (answered `sum * 10`), 1 rq_unknown, 2 rq_never (timeout 200 ms),
/// 3 rq_fail{0, "asked to fail"}, 4 rq_add expecting a std::string (bad_reply).
struct rq_ask {
  proctor::actor_ref calc;
  std::int32_t what = 0;
  std::int32_t a = 0;
  std::int32_t b = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rq_ask& x) {
  return f(caf::meta::type_name("rq_ask"), x.calc, x.what, x.a, x.b);
}
PROCTOR_MESSAGE(rq_ask, "test.request.ask");

/// For the prober: monitor `target`; on its DOWN, send it an rq_add and tell the sender of this
/// message how that send went ("sent", or the error code).
struct rq_send_after_down {
  proctor::actor_ref target;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rq_send_after_down& x) {
  return f(caf::meta::type_name("rq_send_after_down"), x.target);
}
PROCTOR_MESSAGE(rq_send_after_down, "test.request.send_after_down");

// -- actors ------------------------------------------------------------------------------------

namespace request {

proctor::behavior calculator(proctor::actor& self) {
  return {pid_handler(),
          [](const rq_add& x) { return x.a + x.b; },
          [](const rq_divide& x) -> proctor::expected<std::int32_t, actor_error> {
            if (x.b == 0)
              return actor_error::handler("division by zero");
            return x.a / x.b;
          },
          [&self](const rq_never&) { (void)self.make_response_promise<std::int32_t>(); },
          [](const rq_big& b) { return std::string(static_cast<std::size_t>(b.n), 'x'); },
          [&self](const rq_fail& f) {
            switch (f.how) {
              case 0:
                throw std::runtime_error(f.why);
              case 1:
                no_core_file();
                ::raise(SIGSEGV);
                break;
              default: // no automatic ok_msg: the request stays open as the actor ends
                (void)self.make_response_promise<std::int32_t>();
                self.quit();
            }
          },
          [&self](const rq_later& x) {
            auto promise = self.make_response_promise<std::int32_t>();
            self.run_later(std::chrono::milliseconds(x.ms), [promise, n = x.n]() mutable {
              promise.deliver(n * 2);
              promise.deliver(-1); // ignored: a promise is kept once
            });
          },
          [&self](const rq_later_error& x) {
            auto promise = self.make_response_promise<std::int32_t>();
            self.run_later(std::chrono::milliseconds(x.ms), [promise]() mutable {
              promise.deliver_error(actor_error::handler("not today"));
            });
          }};
}

/// Answers an rq_ask with what its own asynchronous request brought back: the value as text, or
/// "error <code>: <message> / <reason>".
proctor::behavior asker(proctor::actor& self) {
  return {pid_handler(), [&self](const rq_ask& ask) {
            auto promise = std::make_shared<proctor::response_promise<std::string>>(
              self.make_response_promise<std::string>());
            auto on_error = [promise](const actor_error& e) {
              promise->deliver("error " + std::string{to_string(e.code)} + ": " + e.message + " / "
                               + to_string(e.reason));
            };
            switch (ask.what) {
              case 0:
                self.request(ask.calc, patience, rq_add{ask.a, ask.b})
                  .then([promise](std::int32_t sum) { promise->deliver(std::to_string(sum * 10)); },
                        on_error);
                break;
              case 1:
                self.request(ask.calc, patience, rq_unknown{})
                  .then([promise](const proctor::ok_msg&) { promise->deliver("ok"); }, on_error);
                break;
              case 2:
                self.request(ask.calc, 200ms, rq_never{})
                  .then([promise](std::int32_t) { promise->deliver("answered"); }, on_error);
                break;
              case 3:
                self.request(ask.calc, patience, rq_fail{0, "asked to fail"})
                  .then([promise](const proctor::ok_msg&) { promise->deliver("survived"); },
                        on_error);
                break;
              default:
                self.request(ask.calc, patience, rq_add{ask.a, ask.b})
                  .then([promise](const std::string& s) { promise->deliver("string " + s); },
                        on_error);
            }
          }};
}

/// See rq_send_after_down.
class prober {
 public:
  explicit prober(proctor::actor& self) : self_(self) {}
  proctor::behavior make_behavior() {
    return {pid_handler(),
            [this](const rq_send_after_down& p) {
              target_ = p.target;
              report_to_ = self_.current_sender();
              self_.monitor(target_);
            },
            [this](const proctor::down_msg&) {
              auto sent = self_.send(target_, rq_add{1, 1});
              (void)self_.send(report_to_, sent ? std::string{"sent"}
                                                : std::string{to_string(sent.error().code)});
            }};
  }

 private:
  proctor::actor& self_;
  proctor::actor_ref target_;
  proctor::actor_ref report_to_;
};

} // namespace request

// -- tests -------------------------------------------------------------------------------------

TEST_CASE("a request to an actor gets the handler's typed result", "[actor][request]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
    for (std::int32_t i = 0; i < 100; ++i) {
      auto sum = self.request<std::int32_t>(calc, patience, rq_add{i, 1000});
      REQUIRE(sum);
      CHECK(*sum == i + 1000);
    }
    auto quotient = self.request<std::int32_t>(calc, patience, rq_divide{84, 2});
    REQUIRE(quotient);
    CHECK(*quotient == 42);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a reply too large for the requester's mailbox fails the request with too_large at "
          "once, and the actor goes on",
          "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self{"small-box", 16 * 1024};
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::forkserver, "calc"));
    auto fits = self.request<std::string>(calc, patience, rq_big{1000});
    REQUIRE(fits);
    CHECK(fits->size() == 1000);
    // An answer rather than a wait until the timeout: patience is a minute.
    auto too_big = self.request<std::string>(calc, patience, rq_big{64 * 1024});
    REQUIRE(!too_big);
    CHECK(too_big.error().code == actor_errc::too_large);
    CHECK_THAT(too_big.error().message, Catch::Contains("does not fit the requester's mailbox"));
    auto sum = self.request<std::int32_t>(calc, patience, rq_add{2, 3});
    REQUIRE(sum);
    CHECK(*sum == 5);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor handler's error reaches the requester as handler_error",
          "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
    auto result = self.request<std::int32_t>(calc, patience, rq_divide{1, 0});
    REQUIRE_FALSE(result);
    CHECK(result.error().code == actor_errc::handler_error);
    CHECK(result.error().message == "division by zero");
    // The actor goes on.
    CHECK(self.request<std::int32_t>(calc, patience, rq_divide{9, 3}).value() == 3);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a request of a type the actor does not handle fails with unhandled",
          "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
    auto result = self.request<proctor::ok_msg>(calc, patience, rq_unknown{});
    REQUIRE_FALSE(result);
    INFO(to_string(result.error()));
    CHECK(result.error().code == actor_errc::unhandled);
    CHECK_THAT(result.error().message, Catch::Contains("test.request.unknown"));
    CHECK(self.request<std::int32_t>(calc, patience, rq_add{1, 2}).value() == 3);
    auto st = proctor::stats(calc);
    REQUIRE(st);
    CHECK(st->dead_letters == 1);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a request to an actor that never replies fails with timeout", "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
    auto result = self.request<std::int32_t>(calc, 200ms, rq_never{});
    REQUIRE_FALSE(result);
    INFO(to_string(result.error()));
    CHECK(result.error().code == actor_errc::timeout);
    // The actor is fine, and a late reply (there is none here) would not be mistaken for another.
    CHECK(self.request<std::int32_t>(calc, patience, rq_add{2, 2}).value() == 4);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor that dies while a request to it is pending fails the request with down "
          "and its exit reason",
          "[actor][request]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    SECTION("an exception") {
      auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
      auto result = self.request<proctor::ok_msg>(calc, patience, rq_fail{0, "disk on fire"});
      REQUIRE_FALSE(result);
      INFO(to_string(result.error()));
      CHECK(result.error().code == actor_errc::down);
      CHECK(result.error().reason.kind == exit_kind::exception);
      CHECK(result.error().reason.detail == "disk on fire");
    }
    SECTION("a signal") {
      auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
      auto result = self.request<proctor::ok_msg>(calc, patience, rq_fail{1, ""});
      REQUIRE_FALSE(result);
      INFO(to_string(result.error()));
      CHECK(result.error().code == actor_errc::down);
      CHECK(result.error().reason.kind == exit_kind::signal);
      CHECK(result.error().reason.code == SIGSEGV);
    }
    SECTION("a normal quit without an answer") {
      auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
      auto result = self.request<proctor::ok_msg>(calc, patience, rq_fail{2, ""});
      REQUIRE_FALSE(result);
      INFO(to_string(result.error()));
      CHECK(result.error().code == actor_errc::down);
      CHECK(result.error().reason.kind == exit_kind::normal);
    }
  }
  INFO("start method " << proctor::to_string(m));
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a request or a send to an actor that has ended fails with noproc", "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    SECTION("it quit") {
      auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
      auto mon = self.monitor(calc);
      REQUIRE(self.send(calc, rq_fail{2, ""}));
      REQUIRE(wait_down(self, mon));
      auto result = self.request<std::int32_t>(calc, patience, rq_add{1, 1});
      REQUIRE_FALSE(result);
      INFO(to_string(result.error()));
      CHECK(result.error().code == actor_errc::noproc);
      auto sent = self.send(calc, rq_add{1, 1});
      REQUIRE_FALSE(sent);
      CHECK(sent.error().code == actor_errc::noproc);
    }
    SECTION("it was killed") {
      auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
      stop(self, calc); // returns once its DOWN came
      auto result = self.request<std::int32_t>(calc, patience, rq_add{1, 1});
      REQUIRE_FALSE(result);
      INFO(to_string(result.error()));
      CHECK(result.error().code == actor_errc::noproc);
      auto sent = self.send(calc, rq_add{1, 1});
      REQUIRE_FALSE(sent);
      CHECK(sent.error().code == actor_errc::noproc);
    }
    SECTION("an empty ref") {
      auto result = self.request<std::int32_t>(proctor::actor_ref{}, patience, rq_add{1, 1});
      REQUIRE_FALSE(result);
      CHECK(result.error().code == actor_errc::noproc);
    }
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("a send to an actor that was killed fails with noproc also in a process other than its "
          "spawner",
          "[actor][request]") {
  auto how = GENERATE(0, 1);
  INFO((how == 0 ? "killed by an exit signal kill" : "died of SIGSEGV"));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
    auto prober = proctor::spawn<request::prober>(on(proctor::start_method::fork, "prober"));
    REQUIRE(self.send(prober, rq_send_after_down{calc}));
    REQUIRE(pid_of(self, prober) != 0); // FIFO: the prober monitors calc by now
    // This process (the spawner) does not watch calc: only the prober learns of its end.
    if (how == 0)
      self.send_exit(calc, proctor::exit_reason::kill());
    else
      REQUIRE(self.send(calc, rq_fail{1, ""}));
    std::string outcome;
    REQUIRE(self.receive(patience, [&](const std::string& s) { outcome = s; }));
    CHECK(outcome == "noproc");
    stop(self, prober);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor's reply of another type than the requester expects fails with bad_reply",
          "[actor][request]") {
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(proctor::start_method::fork, "calc"));
    auto result = self.request<std::string>(calc, patience, rq_add{1, 2});
    REQUIRE_FALSE(result);
    INFO(to_string(result.error()));
    CHECK(result.error().code == actor_errc::bad_reply);
    CHECK_THAT(result.error().message, Catch::Contains("std.string")
                                         && Catch::Contains("std.int32"));
    CHECK(self.request<std::int32_t>(calc, patience, rq_add{1, 2}).value() == 3);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor's response promise answers a request later, once", "[actor][request]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
    auto later = self.request<std::int32_t>(calc, patience, rq_later{21, 100});
    REQUIRE(later);
    CHECK(*later == 42);
    auto failed = self.request<std::int32_t>(calc, patience, rq_later_error{50});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code == actor_errc::handler_error);
    CHECK(failed.error().message == "not today");
    // The second deliver() of the first promise sent nothing: the next reply is the right one.
    CHECK(self.request<std::int32_t>(calc, patience, rq_add{5, 6}).value() == 11);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}

TEST_CASE("an actor's asynchronous request runs then() with the reply or the error",
          "[actor][request]") {
  auto m = GENERATE(from_range(all_methods));
  INFO("start method " << proctor::to_string(m));
  leftover_guard guard;
  {
    kill_children_on_failure cleanup;
    proctor::scoped_actor self;
    auto calc = proctor::spawn<request::calculator>(on(m, "calc"));
    auto asker = proctor::spawn<request::asker>(on(m, "asker"));
    auto ask = [&](std::int32_t what, std::int32_t a = 0, std::int32_t b = 0) {
      auto r = self.request<std::string>(asker, patience, rq_ask{calc, what, a, b});
      return r ? *r : "request failed: " + to_string(r.error());
    };
    CHECK(ask(0, 3, 4) == "70");
    CHECK_THAT(ask(1), Catch::StartsWith("error unhandled"));
    CHECK_THAT(ask(2), Catch::StartsWith("error timeout"));
    CHECK_THAT(ask(4, 1, 1), Catch::StartsWith("error bad reply"));
    CHECK(ask(0, 10, 20) == "300");
    CHECK(ask(3) == "error down: the receiver ended before replying / exception: asked to fail");
    stop(self, asker);
    stop(self, calc);
  }
  REQUIRE_NO_LEFTOVERS(guard);
}
