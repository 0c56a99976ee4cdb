// Seed: "Process", section "Pool":
//
//     from multiprocessing import Pool
//
//     def f(x):
//         return x*x
//
//     if __name__ == '__main__':
//         with Pool(5) as p:
//             print(p.map(f, [1, 2, 3]))
//
// Lesson: a pool keeps worker processes and hands them tasks; map() applies f to every input in
// those workers and returns the results in input order. proctor::task<f> names f the way
// proctor::entry<f> names a process's target, so every worker — forked, spawned or started by the
// forkserver — finds it. The block plays Python's `with`: leaving it terminates the workers.
//
// Expected output (pids differ):
//     [1, 4, 9]
//     f ran in a pool of 5 worker processes (pids 101, 102, 103, 104, 105); leaving the block
//     terminated them, as leaving Python's `with Pool(5) as p:` does.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

int f(int x) {
  return x * x;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 002: with Pool(5) as p: print(p.map(f, [1, 2, 3]))");
  {
    proctor::pool p{5};
    std::cout << samples::python_list(p.map(proctor::task<f>, std::vector{1, 2, 3})) << '\n';

    auto workers = p.worker_pids();
    std::sort(workers.begin(), workers.end());
    std::string pids;
    for (auto pid : workers)
      pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
    std::cout << "f ran in a pool of " << p.size() << " worker processes (pids " << pids
              << "); leaving the block\nterminated them, as leaving Python's `with Pool(5) as p:` "
                 "does.\n";
  }
}
