// Seeds: "Multiprocessing" (the FIFO queue, multiprocessing.Queue, among the ways processes share
// data) and "Process", section "Process Communication: Queue". The Python idiom it mirrors:
//
//     def producer(q):
//         for i in range(5):
//             q.put(f'item {i}')
//         q.put(None)                    # the sentinel: nothing more will come
//
//     def consumer(q):
//         for item in iter(q.get, None):
//             print('Consumed', item)
//
//     q = Queue()
//     Process(target=producer, args=(q,)).start(); Process(target=consumer, args=(q,)).start()
//
// Lesson: two processes share nothing but a queue. The producer puts items; the consumer takes
// them out in the order they were put, waiting while the queue is empty. When the producer is
// done it closes the queue — proctor's sentinel: the consumer still gets every item already in,
// then get() reports `closed` instead of waiting for ever. (A None sentinel works too, but it
// needs one sentinel per consumer and a value that is not an item; close() needs neither.)
//
// The queue is an argument of both children, as in `args=(q,)`; a spawn or forkserver child maps
// the same shared memory again from its name.
//
// Expected output (the two processes' lines interleave differently from run to run):
//     Producing item 0
//     ...
//     Consumed item 0
//     ...
//     Producer: done, queue closed
//     Consumer: get() reports 'closed' after 5 items
#include <iostream>
#include <stdexcept>
#include <string>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

constexpr int items = 5;

void producer(proctor::queue<std::string> q) {
  for (int i = 0; i < items; ++i) {
    std::string item = "item " + std::to_string(i);
    std::cout << "Producing " << item << std::endl;
    if (!q.put(item)) // fails only if the queue was closed or is broken
      throw std::runtime_error("producer: put failed");
  }
  q.close(); // no more items: the consumer drains the queue, then stops
  std::cout << "Producer: done, queue closed" << std::endl;
}

void consumer(proctor::queue<std::string> q) {
  for (int received = 0;; ++received) {
    auto item = q.get(); // waits for the next item
    if (!item) {         // `closed`: the producer closed the queue and every item is out
      if (item.error() != proctor::queue_errc::closed)
        throw std::runtime_error("consumer: get failed");
      std::cout << "Consumer: get() reports '" << proctor::to_string(item.error()) << "' after "
                << received << " items" << std::endl;
      return;
    }
    std::cout << "Consumed " << *item << std::endl;
  }
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  samples::apply_options(argc, argv, "a producer and a consumer process joined by a queue");
  proctor::queue<std::string> q;
  proctor::process p{proctor::entry<producer>, q};
  proctor::process c{proctor::entry<consumer>, q};
  p.start();
  c.start();
  return samples::children_status({p, c});
}
