// Seed: "Process", section "Synchronization" (By Lock):
//
//     def f(l, i):
//         l.acquire()
//         try:
//             print('hello world', i)
//             sleep(3)
//         finally:
//             l.release()
//
//     if __name__ == '__main__':
//         lock = Lock()
//         for num in range(3):
//             p = Process(target=f, args=(lock, num))
//             p.start()
//             p.join()
//
// Lesson, as the seed itself puts it: "This example is basically a serial running one by one."
// start() followed at once by join() inside the loop lets only one child exist at a time, so the
// children print and sleep one after another; the lock, held by each child while it prints and
// sleeps, never has anyone to exclude here. Start all three before joining any and it is the lock
// that keeps them one at a time.
//
// proctor::lock is a process-shared lock: the children receive it as an argument, like the
// seed's `args=(lock, num)`; a spawn or forkserver child maps it again from its name. The seed's
// try/finally is a proctor::lock_guard, which also releases the lock when the body throws. If a
// child died holding the lock, the next one to take it would be told (hold.owner_died()) and go
// on, rather than wait forever.
//
// The seed sleeps 3 s per child; this port sleeps 0.5 s by default (--scale=6 gives 3 s).
//
// Expected output:
//     hello world 0
//     hello world 1
//     hello world 2
//     3 children, each pausing 0.5 s, took 1.5 s: they ran one after another.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <thread>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

using std::chrono::milliseconds;

/// The seed's f: prints and pauses while holding the lock.
void f(proctor::lock l, int i, milliseconds pause) {
  proctor::lock_guard hold{l}; // l.acquire() ... finally: l.release()
  std::cout << "hello world " << i << std::endl;
  std::this_thread::sleep_for(pause);
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 002: start+join in a loop runs the children one by one");
  milliseconds pause{static_cast<long>(samples::scaled(500, options.scale))};
  constexpr int children = 3;

  proctor::lock lock;
  auto began = std::chrono::steady_clock::now();
  int status = 0;
  for (int num = 0; num < children; ++num) {
    proctor::process p{proctor::entry<f>, lock, num, pause};
    p.start();
    p.join(); // the next child is not started before this one has ended
    status |= samples::children_status({p});
  }
  auto took = std::chrono::steady_clock::now() - began;

  std::cout << std::fixed << std::setprecision(1) << children << " children, each pausing "
            << seconds(pause) << " s, took " << seconds(took)
            << " s: they ran one after another.\n";
  return status;
}
