// Seed: "Multiprocessing in Python Guide", section "Python Multiprocessing Process Class"
// (heavy_op1 with global_var_list, four processes).
//
// Lesson: globals are NOT shared between processes. Each child gets its own copy of the program's
// memory, sets its own slot of global_var_list in that copy and sees only that slot set; the
// parent's list is never touched, so it ends as it began: [None, None, None, None].
// (The seed explains this by the processes starting "simultaneously"; the real reason is that
// each process has its own address space. Run them one after another and the result is the same.)
// To bring results back, a child must send them: queues and pipes come with later issues.
//
// The seed sorts 10, 70, 40 and 20 million numbers; this port sorts a tenth of that by default,
// which takes a couple of seconds on two cores. --scale=10 gives the seed's sizes.
//
// Expected output (the order of the children's lines will differ):
//     Global var before starting: [None, None, None, None]
//     Started with n: 1000000
//     Setting global var at idx: 0
//     ...
//     Function idx:  1 1000000
//     Function idx:  1 [True, None, None, None]
//     ...
//     Function idx:  2 7000000
//     Function idx:  2 [None, True, None, None]
//     We're done
//     Global var at end of processing: [None, None, None, None]
#include <array>
#include <cstddef>
#include <iostream>
#include <optional>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/heavy_work.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

// A global on purpose: it is the subject of the lesson. Every slot is None (empty) until set.
std::array<std::optional<bool>, 4> global_var_list;

/// Simple resource-intensive function: marks slot i-1 of this process's copy of the global
/// list, then sorts n random numbers.
void heavy_op1(int i, std::size_t n) {
  std::cout << "Started with n: " << n << '\n';
  std::cout << "Setting global var at idx: " << i - 1 << '\n';
  global_var_list[i - 1] = true;
  auto x = samples::sorted_random_numbers(n);
  std::cout << "Function idx:  " << i << ' ' << x.size() << '\n';
  std::cout << "Function idx:  " << i << ' ' << samples::python_list(global_var_list) << '\n';
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 001: four heavy sorts; globals are not shared between processes");
  // A tenth of the seed's sizes, times --scale.
  auto size = [&](std::size_t seed_millions) {
    return samples::scaled(seed_millions * 100'000, options.scale);
  };
  std::cout << "Global var before starting: " << samples::python_list(global_var_list) << '\n';

  proctor::process p1{proctor::entry<heavy_op1>, 1, size(10)};
  proctor::process p2{proctor::entry<heavy_op1>, 2, size(70)};
  proctor::process p3{proctor::entry<heavy_op1>, 3, size(40)};
  proctor::process p4{proctor::entry<heavy_op1>, 4, size(20)};
  // start the processes
  p1.start();
  p2.start();
  p3.start();
  p4.start();
  // stop execution until each has finished
  p1.join();
  p2.join();
  p3.join();
  p4.join();

  std::cout << "We're done\n";
  std::cout << "Global var at end of processing: " << samples::python_list(global_var_list) << '\n';
  std::cout << "Each child set a slot of its own copy of global_var_list; the parent's copy is "
               "unchanged: globals are not shared between processes.\n";
  return samples::children_status({p1, p2, p3, p4});
}
