// Seed: "Multiprocessing", section "ProcessPoolExecutor":
//
//     from concurrent.futures import ProcessPoolExecutor
//
//     def square(x):
//         return x * x
//
//     with ProcessPoolExecutor() as executor:
//         result = executor.submit(square, 10)
//         print(result.result())
//
// and then what a concurrent.futures user does next: several submissions, taken as they finish.
//
//     with ProcessPoolExecutor(4) as executor:
//         futures = [executor.submit(slow_square, n) for n in (1, 2, 3, 4)]
//         for f in as_completed(futures):
//             print(f.result())
//
// Lesson: submit() returns at once with a future; result() waits for the value. as_completed()
// hands the futures back in the order they finish, not the order they were submitted: here
// slow_square(n) takes (5 - n) * 100 ms, so the last one submitted is the first one done.
// Leaving the block shuts the executor down, waiting for what was submitted (shutdown(true)).
//
// Expected output:
//     100
//     submitted slow_square(1), slow_square(2), slow_square(3), slow_square(4)
//     slow_square(4) = 16, after 100 ms of work
//     slow_square(3) = 9, after 200 ms of work
//     slow_square(2) = 4, after 300 ms of work
//     slow_square(1) = 1, after 400 ms of work
//     as_completed gave them back in the order they finished.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

int square(int x) {
  return x * x;
}

/// x * x, after (5 - x) * 100 ms: the larger x, the sooner it is done.
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds((5 - x) * 100));
  return x * x;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "seed 003: ProcessPoolExecutor().submit(square, 10)");

  {
    proctor::executor executor; // cpu_count() workers, as ProcessPoolExecutor()
    auto result = executor.submit(proctor::task<square>, 10);
    std::cout << result.result() << '\n';
  }

  {
    proctor::executor executor{4}; // a worker per task, so that all four run at once
    std::vector<proctor::future<int>> futures;
    std::vector<int> inputs{1, 2, 3, 4};
    for (int n : inputs)
      futures.push_back(executor.submit(proctor::task<slow_square>, n));
    std::cout << "submitted slow_square(1), slow_square(2), slow_square(3), slow_square(4)\n";
    for (const auto& f : proctor::as_completed(futures)) {
      int n = inputs[static_cast<std::size_t>(std::find(futures.begin(), futures.end(), f)
                                              - futures.begin())];
      std::cout << "slow_square(" << n << ") = " << f.result() << ", after " << (5 - n) * 100
                << " ms of work\n";
    }
    std::cout << "as_completed gave them back in the order they finished.\n";
  }
}
