// Seed: "Multiprocessing" (processes, pools, threads vs processes), first example:
//
//     def square(x):
//         print(x * x)
//
//     process = Process(target=square, args=(10,))
//     process.start()
//     process.join()
//
// Lesson: the target runs in a child process with the argument 10; join() waits for the child to
// complete before the main program continues.
//
// Expected output:
//     100
#include <iostream>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

void square(int x) {
  std::cout << x * x << '\n';
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 003: Process(target=square, args=(10,))");
  proctor::process process{proctor::entry<square>, 10};
  process.start();
  process.join();
  return samples::children_status({process});
}
