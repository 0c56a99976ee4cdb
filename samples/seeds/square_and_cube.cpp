// Seed: "Multiprocessing in Python | Kit 1 (Introduction)", first example (print_square and
// print_cube).
//
// Lesson: two processes with different targets run at the same time. After start() the main
// program goes on running; join() stops it until the process has ended: first p1, then p2. Only
// once both have completed does the main program print "Done!".
//
// Expected output (Square and Cube may come in either order; Done! always last):
//     Square: 100
//     Cube: 1000
//     Done!
#include <iostream>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

/// Prints the cube of a given number.
void print_cube(int num) {
  std::cout << "Cube: " << num * num * num << '\n';
}

/// Prints the square of a given number.
void print_square(int num) {
  std::cout << "Square: " << num * num << '\n';
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 004: square and cube in two processes, then Done!");
  // creating processes
  proctor::process p1{proctor::entry<print_square>, 10};
  proctor::process p2{proctor::entry<print_cube>, 10};
  p1.start(); // start process 1
  p2.start(); // start process 2
  p1.join();  // wait until process 1 is finished
  p2.join();  // wait until process 2 is finished
  // both processes completed
  std::cout << "Done!\n";
  return samples::children_status({p1, p2});
}
