// Seed: "Basics of Processes with Python", section "Making a Process" (procEx and sayHi).
//
// Lesson: a parent process creates a child process to run a function. Constructing the process
// object does not run anything yet; start() does. Parent and child print the same expression,
// current_process().pid, yet the numbers differ: the child is another OS process.
//
// Expected output (your pids will differ):
//     Hi from process 3988 (parent process)
//     Hi from process 4828
#include <iostream>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

/// The child's target: runs in the child process.
void say_hi() {
  std::cout << "Hi from process " << proctor::current_process().pid << '\n';
}

void proc_ex() {
  std::cout << "Hi from process " << proctor::current_process().pid << " (parent process)\n";
  proctor::process other_proc{proctor::entry<say_hi>}; // created: not running yet
  other_proc.start();                                   // now the child runs say_hi
  // No join(), as in the seed: when main() returns, proctor joins the children that are still
  // running (daemon ones are terminated instead), as Python does at interpreter exit.
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first statement: proctor's `if __name__ == '__main__':`
  samples::apply_options(argc, argv, "seed 000: a parent starts a child; both say hi with a pid");
  proc_ex();
}
