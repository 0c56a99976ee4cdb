#include <chrono>
#include <iostream>

#include <proctor/proctor.hpp>

struct add {
  double x, y;
};
struct divide {
  double x, y;
};
PROCTOR_MESSAGE(add, "readme.add");  // a stable name: every process agrees on the type
PROCTOR_MESSAGE(divide, "readme.divide");

// A function actor: one handler per message type; what a handler returns is the reply.
proctor::behavior calculator(proctor::actor&) {
  return {
    [](add a) { return a.x + a.y; },
    [](divide d) -> proctor::expected<double, proctor::actor_error> {
      if (d.y == 0)  // an error of its own, sent back in place of a reply
        return proctor::actor_error{proctor::actor_errc::handler_error, "division by zero", {}};
      return d.x / d.y;
    },
  };
}

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  using namespace std::chrono_literals;

  auto calc = proctor::spawn<calculator>();  // a process of its own, ready when spawn returns
  proctor::scoped_actor self;                // a mailbox for main: to ask, and to be told

  if (auto sum = self.request<double>(calc, 1s, add{1, 2}))
    std::cout << "1 + 2 = " << *sum << '\n';             // 3
  if (auto ratio = self.request<double>(calc, 1s, divide{1, 0}); !ratio)
    std::cout << to_string(ratio.error()) << '\n';       // handler error: division by zero

  self.monitor(calc);                                    // a down_msg when it ends, and why
  self.send_exit(calc, {.kind = proctor::exit_kind::shutdown, .detail = "main is done"});
  self.receive(1s, [](const proctor::down_msg& down) {
    std::cout << down.source << " ended: " << to_string(down.reason) << '\n';  // shutdown: ...
  });
}
