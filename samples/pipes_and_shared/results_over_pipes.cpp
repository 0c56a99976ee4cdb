// Seeds: "Process", section "Process Communication: Pipe", and "Multiprocessing" (Pipe among the
// ways processes share data). The Python idiom it mirrors:
//
//     def worker(lo, hi, conn):
//         conn.send(sum(i * i for i in range(lo, hi)))
//         conn.close()
//
//     pipes = []
//     for k in range(3):
//         receiving, sending = Pipe(duplex=False)
//         Process(target=worker, args=(lo, hi, sending)).start()
//         sending.close()                # the parent keeps only the receiving end
//         pipes.append(receiving)
//     while pipes:
//         for r in wait(pipes):
//             try: print(r.recv())
//             except EOFError: pipes.remove(r)   # that worker is done
//
// Lesson: a pipe has two ends. Each worker gets the sending end of a one-way pipe of its own,
// sends its result and exits; the parent keeps the receiving ends, waits on them and receives. Once
// a worker has let go of its end (closed it, or exited) and its result is read, recv() on that end
// reports `closed`: end of file. That only happens if nobody else holds the sending end — so, as
// in Python, the parent closes its own copy right after handing it to the child.
//
// proctor::wait() is Python's wait(): it sleeps until one of the ends has a message or end of
// file, and returns which. Compare samples/queues/global_list_with_queue, where one queue carries
// every result and each message says which child sent it: here the pipe a result arrives on says
// so.
//
// Expected output (the lines of different workers interleave differently from run to run):
//     Worker 0: sum of squares of [0, 333333) sent
//     Worker 0 sent 12345586419956790
//     Worker 1: sum of squares of [333333, 666666) sent
//     Worker 1 sent 86419327161141975
//     ...
//     Worker 0 is done: end of file
//     ...
//     Total: 333332833333500000 (expected 333332833333500000)
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <vector>

#include <proctor/pipe.hpp>
#include <proctor/proctor.hpp>
#include <proctor/wait.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

using sending_end = proctor::connection<std::uint64_t>;

constexpr std::uint64_t numbers = 1'000'000; // the workers sum the squares of [0, numbers)
constexpr int workers = 3;

/// The parent's side of one worker's pipe.
struct from_worker {
  int k;
  proctor::connection<std::uint64_t> end;
};

/// Sums the squares of [lo, hi) and sends the sum on `conn`, its only way back to the parent.
void worker(int k, std::uint64_t lo, std::uint64_t hi, sending_end conn) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = lo; i < hi; ++i)
    sum += i * i;
  if (!conn.send(sum))
    throw std::runtime_error("worker: the parent's end is gone");
  std::cout << "Worker " << k << ": sum of squares of [" << lo << ", " << hi << ") sent"
            << std::endl;
  conn.close(); // optional: exiting lets go of the end too
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "workers send their results back over pipes of their own");

  std::vector<from_worker> pending; // the receiving ends not at end of file yet
  std::vector<proctor::process> children;
  for (int k = 0; k < workers; ++k) {
    auto [receiving, sending] = proctor::pipe<std::uint64_t>(false); // one way: worker -> parent
    std::uint64_t lo = numbers * k / workers, hi = numbers * (k + 1) / workers;
    children.emplace_back(proctor::entry<worker>, k, lo, hi, sending);
    children.back().start();
    sending.close(); // the worker's end is the worker's alone: its exit then reads as end of file
    pending.push_back({k, receiving});
  }

  std::uint64_t total = 0;
  while (!pending.empty()) {
    std::vector<proctor::waitable> ends;
    for (auto& p : pending)
      ends.emplace_back(p.end);
    std::vector<bool> done(pending.size());
    for (auto i : proctor::wait(ends)) {
      auto& from = pending[i];
      auto got = from.end.recv(); // does not wait: wait() saw a message or end of file
      if (got) {
        std::cout << "Worker " << from.k << " sent " << *got << std::endl;
        total += *got;
      } else if (got.error() == proctor::queue_errc::closed) {
        std::cout << "Worker " << from.k << " is done: end of file" << std::endl;
        from.end.close();
        done[i] = true;
      } else {
        std::cerr << "sample: recv failed: " << proctor::to_string(got.error()) << '\n';
        return 1;
      }
    }
    for (std::size_t i = pending.size(); i-- > 0;)
      if (done[i])
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
  }

  std::uint64_t n = numbers - 1; // 0² + 1² + ... + n² = n(n+1)(2n+1)/6
  std::cout << "Total: " << total << " (expected " << n * (n + 1) * (2 * n + 1) / 6 << ")\n";
  return samples::children_status(children);
}
