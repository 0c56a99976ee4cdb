// Seeds: "Multiprocessing" (the synchronization primitives: Lock, Semaphore, Event, Barrier) and
// "Process", section "Synchronization". Three short scenes, each with fresh processes:
//
//     barrier = Barrier(3)               # 1. nobody passes before all three have arrived
//     def runner(k, barrier):
//         sleep(0.1 * k); print(k, 'arrives'); i = barrier.wait(); print(k, 'passes')
//
//     go = Event()                       # 2. waiters sleep until the parent sets the event
//     def waiter(k, go):
//         print(k, 'waits'); go.wait(); print(k, 'released')
//
//     sem = Semaphore(2)                 # 3. at most two workers inside at a time
//     def worker(k, sem, inside):
//         with sem:
//             with inside.get_lock(): inside.value += 1; print(k, 'holds it', inside.value)
//             sleep(0.2)
//             with inside.get_lock(): inside.value -= 1
//
// Lesson: processes share nothing but what they are given, so coordination goes through
// primitives in shared memory, passed to the children as arguments like any other:
// - a barrier holds every party until the last one arrives, then releases them all together;
// - an event is a flag one process raises and any number of others wait for;
// - a semaphore counts units: with 2 units, a third worker waits until a holder releases one.
//   The count of workers inside is a proctor::value<int>, changed under its own lock; a second
//   value keeps the peak, which the parent prints at the end.
//
// The pauses are 0.1 s, 0.3 s and 0.2 s; --scale multiplies them.
//
// Expected output (the order within each group differs from run to run):
//     -- a barrier of 3 processes
//     Runner 0 arrives
//     Runner 1 arrives
//     Runner 2 arrives
//     Runner 2 passes (arrival index 2)
//     Runner 0 passes (arrival index 0)
//     Runner 1 passes (arrival index 1)
//     -- an event releases the waiters
//     Waiter 0 waits
//     ...
//     Parent sets the event
//     Waiter 1 released
//     ...
//     -- a semaphore lets 2 workers in at a time
//     Worker 0 holds the semaphore (1 inside)
//     Worker 1 holds the semaphore (2 inside)
//     Worker 1 releases it
//     Worker 2 holds the semaphore (2 inside)
//     ...
//     At most 2 workers were inside at once
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

using std::chrono::milliseconds;

/// Arrives at the barrier after a pause that grows with k, then passes with everybody else.
void runner(int k, proctor::barrier barrier, milliseconds pause) {
  std::this_thread::sleep_for(pause * k);
  std::cout << "Runner " << k << " arrives" << std::endl;
  auto index = barrier.wait(); // throws broken_barrier_error after the timeout given below
  std::cout << "Runner " << k << " passes (arrival index " << index << ')' << std::endl;
}

/// Waits for the event.
void waiter(int k, proctor::event go) {
  std::cout << "Waiter " << k << " waits" << std::endl;
  go.wait();
  std::cout << "Waiter " << k << " released" << std::endl;
}

/// Holds one unit of the semaphore for a while; `inside` counts the holders, `most` the peak.
void worker(int k, proctor::semaphore sem, proctor::value<int> inside, proctor::value<int> most,
            milliseconds pause) {
  sem.acquire(); // waits while two others hold it
  {
    proctor::lock_guard hold{inside.get_lock()};
    int now = ++inside.get_obj();
    most.set(std::max(most.get(), now));
    std::cout << "Worker " << k << " holds the semaphore (" << now << " inside)" << std::endl;
  }
  std::this_thread::sleep_for(pause);
  {
    proctor::lock_guard hold{inside.get_lock()};
    --inside.get_obj();
    std::cout << "Worker " << k << " releases it" << std::endl;
  }
  sem.release();
}

/// Starts every process, then returns the children_status of them all.
int run_all(std::vector<proctor::process> children) {
  for (auto& child : children)
    child.start();
  return samples::children_status(std::move(children));
}

int barrier_scene(milliseconds pause) {
  std::cout << "-- a barrier of 3 processes" << std::endl;
  proctor::barrier barrier{3, {}, std::chrono::seconds(10)}; // a dead runner cannot hang the rest
  std::vector<proctor::process> runners;
  for (int k = 0; k < 3; ++k)
    runners.emplace_back(proctor::entry<runner>, k, barrier, pause);
  return run_all(std::move(runners));
}

int event_scene(milliseconds pause) {
  std::cout << "-- an event releases the waiters" << std::endl;
  proctor::event go;
  std::vector<proctor::process> waiters;
  for (int k = 0; k < 3; ++k)
    waiters.emplace_back(proctor::entry<waiter>, k, go);
  for (auto& w : waiters)
    w.start();
  // Only so that the output shows them waiting: a waiter that starts after set() passes at once.
  std::this_thread::sleep_for(pause);
  std::cout << "Parent sets the event" << std::endl;
  go.set();
  return samples::children_status(std::move(waiters));
}

int semaphore_scene(milliseconds pause) {
  std::cout << "-- a semaphore lets 2 workers in at a time" << std::endl;
  proctor::semaphore sem{2};
  proctor::value<int> inside, most;
  std::vector<proctor::process> workers;
  for (int k = 0; k < 4; ++k)
    workers.emplace_back(proctor::entry<worker>, k, sem, inside, most, pause);
  int status = run_all(std::move(workers));
  std::cout << "At most " << most.get() << " workers were inside at once" << std::endl;
  return status;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "a barrier, an event and a semaphore coordinating processes");
  auto pause = [&](std::size_t ms) {
    return milliseconds{static_cast<long>(samples::scaled(ms, options.scale))};
  };
  int status = barrier_scene(pause(100));
  status |= event_scene(pause(300));
  status |= semaphore_scene(pause(200));
  return status;
}
