// Pools: a worker that dies takes only its own task with it.
//
// In Python, a worker of multiprocessing.Pool killed by a segfault makes Pool.map wait forever for
// the lost result, and a dead worker of concurrent.futures.ProcessPoolExecutor breaks the whole
// executor (BrokenProcessPool for every pending future, and no new submissions).
//
// Lesson: try_map() gives every input its own outcome, a value or a task_error. square(5)
// segfaults its worker: that one task fails with worker_died and the worker's exit reason; the
// other results arrive, each exactly once (results the dead worker had finished but not sent are
// read from the shared memory it wrote them to). The pool starts a replacement worker and goes
// on. map() would throw the first task_error instead; pool_options::retries would first run the
// task again on another worker.
//
// Expected output (pids differ):
//     a pool of 2 workers: pids 101, 102 (workers started so far: 2)
//     square(1) = 1
//     square(2) = 4
//     square(3) = 9
//     square(4) = 16
//     square(5) failed: worker died
//       exit reason: signal 11 (SIGSEGV)
//       what(): task 4: worker died (signal 11 (SIGSEGV)): its worker (pid 102) died running it
//     square(6) = 36
//     square(7) = 49
//     square(8) = 64
//     the pool goes on: [100, 121, 144]
//     pids 101, 103 (workers started so far: 3): the dead worker was replaced
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

/// x * x, except for 5: a segfault kills the worker running it.
int square(int x) {
  if (x == 5) {
    rlimit no_core{0, 0}; // a demonstration: leave no core file behind
    ::setrlimit(RLIMIT_CORE, &no_core);
    std::raise(SIGSEGV);
  }
  return x * x;
}

/// "pids 101, 102 (workers started so far: 2)".
std::string workers_of(const proctor::pool& pool) {
  std::string out = "pids ";
  auto pids = pool.worker_pids();
  std::sort(pids.begin(), pids.end());
  for (std::size_t i = 0; i < pids.size(); ++i)
    out += (i > 0 ? ", " : "") + std::to_string(pids[i]);
  return out + " (workers started so far: " + std::to_string(pool.workers_started()) + ")";
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "pools: one input segfaults its worker; the rest arrive");

  proctor::pool pool{2};
  std::cout << "a pool of 2 workers: " << workers_of(pool) << '\n';

  std::vector<int> inputs{1, 2, 3, 4, 5, 6, 7, 8};
  auto results = pool.try_map(proctor::task<square>, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::cout << "square(" << inputs[i] << ")";
    if (results[i]) {
      std::cout << " = " << *results[i] << '\n';
      continue;
    }
    const proctor::task_error& e = results[i].error();
    std::cout << " failed: " << to_string(e.code()) << '\n';
    if (e.reason())
      std::cout << "  exit reason: " << to_string(*e.reason()) << '\n';
    std::cout << "  what(): " << e.what() << '\n';
  }

  // Another map: by the time it is done, the pool has replaced the dead worker.
  auto more = pool.map(proctor::task<square>, std::vector{10, 11, 12});
  std::cout << "the pool goes on: " << samples::python_list(more) << '\n';
  std::cout << workers_of(pool) << ": the dead worker was replaced\n";
}
