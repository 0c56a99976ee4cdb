// A user's program: one child under each start method, checked by its exit code.
#include <iostream>

#include <proctor/proctor.hpp>

void answer(int x) { proctor::exit(x); }

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  for (auto m : {proctor::start_method::fork, proctor::start_method::spawn,
                 proctor::start_method::forkserver}) {
    auto p = proctor::get_context(m).make_process(proctor::entry<answer>, 42);
    p.start();
    p.join();
    if (p.exitcode() != 42) {
      std::cout << "consumer: " << proctor::to_string(m) << " child exited "
                << p.exitcode().value_or(-1000) << '\n';
      return 1;
    }
  }
  std::cout << "consumer: ok\n";
}
