// Seed: "Basics of Processes with Python", section "Making Multiple Processes" (the exercise:
// modify procEx so that it creates three processes, each of which says "hi").
//
// Lesson: one target, several processes. Each child prints its own pid; the three run at the same
// time, so the order of their lines may change from run to run.
//
// Expected output (pids and the order of the children's lines will differ):
//     Hi from process 3988 (parent process)
//     Hi from process 4828
//     Hi from process 4829
//     Hi from process 4830
#include <iostream>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

void say_hi() {
  std::cout << "Hi from process " << proctor::current_process().pid << '\n';
}

std::vector<proctor::process> proc_ex(int children) {
  std::cout << "Hi from process " << proctor::current_process().pid << " (parent process)\n";
  std::vector<proctor::process> procs;
  for (int i = 0; i < children; ++i)
    procs.emplace_back(proctor::entry<say_hi>);
  for (auto& p : procs)
    p.start(); // all three are started before any is waited for: they run side by side
  return procs;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 000 exercise: three children say hi");
  auto children = proc_ex(3);
  return samples::children_status(children); // joins all three
}
