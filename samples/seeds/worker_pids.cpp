// Seed: "Multiprocessing in Python | Kit 1 (Introduction)", second example (worker1, worker2).
//
// Lessons:
// - The main program and each worker are different processes, each with its own process ID.
// - p.pid(), which the parent reads from its process object, is the pid the child itself sees
//   with getpid() (Python's p.pid and os.getpid()): compare the lines.
// - Each process runs independently, in its own memory space, and ends when its target returns:
//   after join(), is_alive() is False.
//
// Expected output (pids will differ; the workers' lines may come in another order):
//     ID of main process: 28628
//     ID of process running worker1: 29305
//     ID of process running worker2: 29306
//     ID of process p1: 29305
//     ID of process p2: 29306
//     Both processes finished execution!
//     Process p1 is alive: False
//     Process p2 is alive: False
#include <unistd.h>

#include <iostream>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

void worker1() {
  std::cout << "ID of process running worker1: " << ::getpid() << '\n';
}

void worker2() {
  std::cout << "ID of process running worker2: " << ::getpid() << '\n';
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 004: worker pids, p.pid() and is_alive()");
  std::cout << "ID of main process: " << ::getpid() << '\n';

  proctor::process p1{proctor::entry<worker1>};
  proctor::process p2{proctor::entry<worker2>};
  p1.start();
  p2.start();

  // A started process knows its pid at once, even before the child has printed anything.
  std::cout << "ID of process p1: " << *p1.pid() << '\n';
  std::cout << "ID of process p2: " << *p2.pid() << '\n';

  p1.join();
  p2.join();
  std::cout << "Both processes finished execution!\n";

  std::cout << "Process p1 is alive: " << samples::python_bool(p1.is_alive()) << '\n';
  std::cout << "Process p2 is alive: " << samples::python_bool(p2.is_alive()) << '\n';
  return samples::children_status({p1, p2});
}
