#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

int square(int x) {
  if (x == 3)
    std::raise(SIGSEGV);  // kills the worker process running it
  return x * x;
}

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  proctor::pool pool{2};  // two worker processes; they end with the pool, as after `with Pool(2)`

  for (int y : pool.map(proctor::task<square>, std::vector{1, 2, 4}))
    std::cout << y << ' ';                                            // 1 4 16
  std::cout << '\n';

  for (auto& r : pool.try_map(proctor::task<square>, std::vector{1, 2, 3, 4}))
    std::cout << (r ? std::to_string(*r) : r.error().what()) << '\n';
  // 1, 4, "task 2: worker died (signal 11 (SIGSEGV)): its worker (pid …) died running it", 16

  proctor::executor executor;  // concurrent.futures' ProcessPoolExecutor
  auto f = executor.submit(proctor::task<square>, 10);
  std::cout << f.result() << '\n';                                    // 100
}
