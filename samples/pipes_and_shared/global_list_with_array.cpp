// Seed: "Multiprocessing in Python Guide", section "Python Multiprocessing Process Class" — the
// heavy sorts that set global_var_list — done right with shared memory:
//
//     def heavy_op1(i, n, global_var_list):
//         with global_var_list.get_lock():
//             global_var_list[i - 1] = True
//             print("Function idx: ", i, global_var_list[:])
//         x = sorted([random.random() for i in range(n)])
//
//     global_var_list = Array('b', [False] * 4)   # in shared memory, with a lock
//     ... four processes, args=(i, n, global_var_list) ...
//     print("Global var at end of processing:", global_var_list[:])
//
// Lesson: a global is copied into each child (samples/seeds/globals_not_shared shows the parent's
// list staying [None, None, None, None]); a proctor::array is not copied: its elements live in
// shared memory that the parent and every child map, so a slot a child sets is set for all. The
// parent ends with [True, True, True, True].
//
// Each child sets its slot and prints the list while holding the array's lock, so that no child
// prints a list another one is half-way through changing, and the lines come out one at a time.
// The lock is an rlock (as in Python), so set() and to_array(), which take it themselves, may be
// called while holding it. A child may see other children's slots already set: they all share the
// one list.
//
// The sorts are a hundredth of the seed's sizes by default (--scale=100 gives the seed's).
//
// Expected output (the order of the children differs from run to run):
//     Global var before starting: [False, False, False, False]
//     Function idx:  2 [False, True, False, False]
//     Function idx:  1 [True, True, False, False]
//     ...
//     Function idx:  2 sorted 700000
//     ...
//     Global var at end of processing: [True, True, True, True]
#include <cstddef>
#include <iostream>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/heavy_work.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

using flags = proctor::array<bool, 4>; // False x 4, and an rlock

/// Marks slot i-1 of the shared list under its lock, then sorts n random numbers.
void heavy_op1(int i, std::size_t n, flags global_var_list) {
  {
    proctor::lock_guard hold{global_var_list.get_lock()}; // with global_var_list.get_lock():
    global_var_list.set(static_cast<std::size_t>(i - 1), true);
    std::cout << "Function idx:  " << i << ' ' << samples::python_list(global_var_list.to_array())
              << std::endl;
  }
  auto x = samples::sorted_random_numbers(n);
  std::cout << "Function idx:  " << i << " sorted " << x.size() << std::endl;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 001: four heavy sorts set their slots of a list in shared memory");
  auto size = [&](std::size_t seed_millions) {
    return samples::scaled(seed_millions * 10'000, options.scale);
  };
  flags global_var_list;
  std::cout << "Global var before starting: " << samples::python_list(global_var_list.to_array())
            << '\n';

  proctor::process p1{proctor::entry<heavy_op1>, 1, size(10), global_var_list};
  proctor::process p2{proctor::entry<heavy_op1>, 2, size(70), global_var_list};
  proctor::process p3{proctor::entry<heavy_op1>, 3, size(40), global_var_list};
  proctor::process p4{proctor::entry<heavy_op1>, 4, size(20), global_var_list};
  p1.start();
  p2.start();
  p3.start();
  p4.start();
  p1.join();
  p2.join();
  p3.join();
  p4.join();

  std::cout << "We're done\n";
  std::cout << "Global var at end of processing: "
            << samples::python_list(global_var_list.to_array()) << '\n';
  return samples::children_status({p1, p2, p3, p4});
}
