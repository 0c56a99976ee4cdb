// Actors: a calculator actor answers requests; main() asks through a scoped_actor.
//
// Lesson: a request is a message that expects a reply. The calculator's handlers return their
// answer, and the framework sends it back to whoever asked; main's request<R>() waits for it and
// gives an expected<R, actor_error>: the reply, or an error as a value — never an exception.
//
//  - add, sub, mul and div answer with a number.
//  - div by zero answers with an error of the calculator's own: its handler returns an
//    expected<std::int64_t, actor_error>, and the error travels back in place of a reply.
//  - slow_mul answers after a pause. It does not block the calculator: the handler takes a
//    response_promise and a timer delivers it later, so the calculator answers other requests
//    meanwhile. Asked with a timeout shorter than the pause, main gets a `timeout` error; the
//    late reply, when it comes, is dropped — nobody waits for it any more.
//  - Once the calculator has been stopped, a request to it fails at once with `noproc`.
//
// Expected output (pids and ids differ):
//     main (pid 100) asks <actor calculator#5c0e51aa pid 101>
//     6 + 3 = 9
//     6 - 3 = 3
//     6 * 3 = 18
//     6 / 3 = 2
//     6 / 0 -> error: handler error: division by zero
//     6 * 7 slowly (300 ms), waiting at most 100 ms -> error: timeout: no reply within 100 ms
//     2 + 2, asked while the slow 6 * 7 is still pending = 4
//     6 * 7 slowly (200 ms), waiting at most 2000 ms = 42
//     main: DOWN from <actor calculator#5c0e51aa pid 101>: shutdown: main is done with it
//     1 + 1 -> error: noproc: the actor has ended
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

// The calculator's messages. A namespace of their own keeps `div` apart from std::div.
namespace calc {

struct add {
  std::int64_t x, y;
};
struct sub {
  std::int64_t x, y;
};
struct mul {
  std::int64_t x, y;
};
struct div {
  std::int64_t x, y;
};
struct slow_mul {
  std::int64_t x, y;
  std::int32_t pause_ms; ///< How long the calculator takes to answer.
};

} // namespace calc

PROCTOR_MESSAGE(calc::add, "samples.calculator.add");
PROCTOR_MESSAGE(calc::sub, "samples.calculator.sub");
PROCTOR_MESSAGE(calc::mul, "samples.calculator.mul");
PROCTOR_MESSAGE(calc::div, "samples.calculator.div");
PROCTOR_MESSAGE(calc::slow_mul, "samples.calculator.slow_mul");

namespace {

using result = proctor::expected<std::int64_t, proctor::actor_error>;
using std::chrono::milliseconds;

/// The calculator: one handler per operation; what a handler returns is the reply.
proctor::behavior calculator(proctor::actor& self) {
  return {
    [](calc::add op) { return op.x + op.y; },
    [](calc::sub op) { return op.x - op.y; },
    [](calc::mul op) { return op.x * op.y; },
    [](calc::div op) -> result {
      if (op.y == 0) // an error of the calculator's own, sent back in place of a reply
        return proctor::actor_error{proctor::actor_errc::handler_error, "division by zero", {}};
      return op.x / op.y;
    },
    [&self](calc::slow_mul op) {
      // Take over the reply, and give it when a timer fires: the calculator stays free to
      // answer other requests in the meantime.
      auto answer = self.make_response_promise<std::int64_t>();
      self.run_later(milliseconds{op.pause_ms},
                     [answer, op]() mutable { answer.deliver(op.x * op.y); });
    },
  };
}

/// Prints what a request gave: "6 + 3 = 9", or "6 / 0 -> error: ...". True if it gave a value.
bool show(const std::string& question, const result& r) {
  if (r)
    std::cout << question << " = " << *r << std::endl;
  else
    std::cout << question << " -> error: " << to_string(r.error()) << std::endl;
  return r.has_value();
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "a calculator actor answering requests, errors and timeouts");
  proctor::scoped_actor self{"main"};
  auto calculator_ref = proctor::spawn<calculator>(proctor::spawn_options{.name = "calculator"});
  std::cout << "main (pid " << proctor::current_process().pid << ") asks " << calculator_ref
            << std::endl;

  // request<R>(to, timeout, message): waits for the reply of type R, or an error.
  auto ask = [&](const auto& op, milliseconds timeout = milliseconds{1000}) {
    return self.request<std::int64_t>(calculator_ref, timeout, op);
  };
  bool as_expected = true;
  as_expected &= show("6 + 3", ask(calc::add{6, 3}));
  as_expected &= show("6 - 3", ask(calc::sub{6, 3}));
  as_expected &= show("6 * 3", ask(calc::mul{6, 3}));
  as_expected &= show("6 / 3", ask(calc::div{6, 3}));

  auto by_zero = ask(calc::div{6, 0});
  as_expected &= !show("6 / 0", by_zero)
                 && by_zero.error().code == proctor::actor_errc::handler_error;

  auto too_slow = ask(calc::slow_mul{6, 7, 300}, milliseconds{100});
  as_expected &= !show("6 * 7 slowly (300 ms), waiting at most 100 ms", too_slow)
                 && too_slow.error().code == proctor::actor_errc::timeout;
  as_expected &= show("2 + 2, asked while the slow 6 * 7 is still pending", ask(calc::add{2, 2}));
  as_expected &= show("6 * 7 slowly (200 ms), waiting at most 2000 ms",
                      ask(calc::slow_mul{6, 7, 200}, milliseconds{2000}));

  // Stop it, as a supervisor would: an exit signal with reason shutdown. The monitor's DOWN
  // message says when it has ended, and why.
  self.monitor(calculator_ref);
  self.send_exit(calculator_ref,
                 {.kind = proctor::exit_kind::shutdown, .detail = "main is done with it"});
  as_expected &= self.receive(std::chrono::seconds{5}, [](const proctor::down_msg& down) {
    std::cout << "main: DOWN from " << down.source << ": " << to_string(down.reason) << std::endl;
  });
  auto after = ask(calc::add{1, 1});
  as_expected &= !show("1 + 1", after) && after.error().code == proctor::actor_errc::noproc;

  if (!as_expected)
    std::cerr << "calculator: an answer was not the one expected\n";
  return as_expected ? 0 : 1;
}
