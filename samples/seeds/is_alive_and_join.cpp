// Seed: "Multiprocessing in Python Guide", section "Getting Information about Processes"
// (heavy_op1 printing its pid; is_alive() before and after join(), in the seed's three variants).
//
// Lessons:
// - The parent and each child have their own pid (Python's os.getpid()).
// - A process is alive from start() until it ends; join() waits for that end, so is_alive()
//   right after join() is always False, and before join() it is True while the child still works.
//
// The seed sorts 40 and 60 million numbers; this port sorts a tenth of that by default.
// --scale=10 gives the seed's sizes.
//
// Expected output (pids will differ; children's lines may interleave differently):
//     == variant 1: is_alive() before join()
//     Parent id: 21376
//     p1 alive:? True
//     p2 alive:? True
//     Started with n: 6000000
//     Started with n: 4000000
//     Function idx:  1 4000000
//     Function pid: 7816
//     ...
//     We're done
#include <unistd.h>

#include <cstddef>
#include <iostream>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/heavy_work.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

/// Simple resource-intensive function.
void heavy_op1(int i, std::size_t n) {
  std::cout << "Started with n: " << n << '\n';
  auto x = samples::sorted_random_numbers(n);
  std::cout << "Function idx:  " << i << ' ' << x.size() << '\n';
  std::cout << "Function pid: " << ::getpid() << '\n';
}

void print_alive(const char* name, proctor::process& p) {
  std::cout << name << " alive:? " << samples::python_bool(p.is_alive()) << '\n';
}

/// The two children of every variant.
struct two_children {
  proctor::process p1;
  proctor::process p2;
};

/// Prints the parent's pid, then starts p1 sorting 4 million numbers and p2 sorting 6 million
/// (times scale).
two_children start_two_children(double scale) {
  std::cout << "Parent id: " << ::getpid() << '\n';
  two_children c{proctor::process{proctor::entry<heavy_op1>, 1, samples::scaled(4'000'000, scale)},
                 proctor::process{proctor::entry<heavy_op1>, 2, samples::scaled(6'000'000, scale)}};
  c.p1.start();
  c.p2.start();
  return c;
}

/// Both processes are alive: the check comes before join().
int alive_before_join(double scale) {
  auto c = start_two_children(scale);
  print_alive("p1", c.p1);
  print_alive("p2", c.p2);
  c.p1.join();
  c.p2.join();
  std::cout << "We're done\n";
  return samples::children_status({c.p1, c.p2});
}

/// p2 is checked before any join (True); p1 right after its join (False).
int p1_checked_after_its_join(double scale) {
  auto c = start_two_children(scale);
  print_alive("p2", c.p2);
  c.p1.join();
  print_alive("p1", c.p1);
  c.p2.join();
  std::cout << "We're done\n";
  return samples::children_status({c.p1, c.p2});
}

/// Each is checked right after its own join: both False.
int each_checked_after_its_join(double scale) {
  auto c = start_two_children(scale);
  c.p1.join();
  print_alive("p1", c.p1);
  c.p2.join();
  print_alive("p2", c.p2);
  std::cout << "We're done\n";
  return samples::children_status({c.p1, c.p2});
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 001: pids, and is_alive() before and after join(), in three variants");
  int status = 0;
  std::cout << "== variant 1: is_alive() before join()\n";
  status |= alive_before_join(options.scale);
  std::cout << "\n== variant 2: p2 checked before join(), p1 after its join()\n";
  status |= p1_checked_after_its_join(options.scale);
  std::cout << "\n== variant 3: each checked after its own join()\n";
  status |= each_checked_after_its_join(options.scale);
  std::cout << "\nEach process is alive until join() has seen it end: is_alive() tells whether "
               "it is still executing.\n";
  return status;
}
