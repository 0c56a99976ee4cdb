// Seed: "Process" (Pool / Process / Why if __name__ == '__main__' / ...), section "Process":
//
//     def f(name):
//         print('hello', name)
//
//     if __name__ == '__main__':
//         p = Process(target=f, args=('bob',))
//         p.start()
//         p.join()
//
// Lesson: start() runs the target in a new process with the given arguments; join() makes the
// caller wait until that process has finished. The argument, a string, is copied into the child
// (under spawn and forkserver it is serialized, as Python pickles it).
//
// Expected output:
//     hello bob
#include <iostream>
#include <string>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

void f(const std::string& name) {
  std::cout << "hello " << name << '\n';
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // proctor's `if __name__ == '__main__':` — see fork_spawn_forkserver
  samples::apply_options(argc, argv, "seed 002: Process(target=f, args=('bob',))");
  proctor::process p{proctor::entry<f>, "bob"};
  p.start();
  p.join();
  return samples::children_status({p});
}
