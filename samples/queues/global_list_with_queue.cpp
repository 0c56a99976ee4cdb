// Seed: "Multiprocessing in Python Guide", section "Python Multiprocessing Process Class" — the
// heavy sorts that set global_var_list — done right:
//
//     def heavy_op1(i, n, q):
//         x = sorted([random.random() for i in range(n)])
//         q.put((i - 1, True))           # send the result instead of setting a global
//
//     q = Queue()
//     ... start the four processes ...
//     for _ in range(4):
//         idx, value = q.get()
//         global_var_list[idx] = value   # the parent assembles its own list
//
// Lesson: a child cannot set the parent's variables (samples/seeds/globals_not_shared shows the
// list staying [None, None, None, None]); it sends its result back instead. Each child puts
// (index, result) on one shared queue; the parent takes four results off it and fills in its own
// list. The results arrive in the order the sorts finish, not in the order the children were
// started: the index in each message says which slot it fills, so the order does not matter.
//
// Unlike Python, the parent may join the children before or after taking the results: a put
// copies the item straight into shared memory (there is no feeder thread to flush), so a child
// that has put its result can exit at once.
//
// The seed sorts 10, 70, 40 and 20 million numbers; this port sorts a tenth of that by default.
// --scale=10 gives the seed's sizes.
//
// Expected output (the order of the children's lines and of the results will differ):
//     Global var before starting: [None, None, None, None]
//     Started with n: 1000000
//     ...
//     Result from idx 0: True
//     Result from idx 3: True
//     ...
//     Global var at end of processing: [True, True, True, True]
#include <array>
#include <cstddef>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <utility>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/heavy_work.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

/// What a child sends back: the slot it fills and the value for it, Python's (idx, True).
using slot_result = std::pair<int, bool>;

/// Sorts n random numbers, then reports on `results` that slot i-1 is done.
void heavy_op1(int i, std::size_t n, proctor::queue<slot_result> results) {
  std::cout << "Started with n: " << n << std::endl;
  auto x = samples::sorted_random_numbers(n);
  std::cout << "Function idx:  " << i << ' ' << x.size() << std::endl;
  if (!results.put(slot_result{i - 1, true}))
    throw std::runtime_error("heavy_op1: could not send the result");
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 001: four heavy sorts send their results back over a queue");
  auto size = [&](std::size_t seed_millions) {
    return samples::scaled(seed_millions * 100'000, options.scale);
  };
  // The parent's own list: only the parent writes it, from the messages it receives.
  std::array<std::optional<bool>, 4> global_var_list;
  std::cout << "Global var before starting: " << samples::python_list(global_var_list) << '\n';

  proctor::queue<slot_result> results;
  proctor::process p1{proctor::entry<heavy_op1>, 1, size(10), results};
  proctor::process p2{proctor::entry<heavy_op1>, 2, size(70), results};
  proctor::process p3{proctor::entry<heavy_op1>, 3, size(40), results};
  proctor::process p4{proctor::entry<heavy_op1>, 4, size(20), results};
  p1.start();
  p2.start();
  p3.start();
  p4.start();

  for (std::size_t received = 0; received < global_var_list.size(); ++received) {
    auto result = results.get(); // waits for the next child to finish its sort
    if (!result) {
      std::cerr << "sample: no result: " << proctor::to_string(result.error()) << '\n';
      return 1;
    }
    auto [idx, value] = *result;
    std::cout << "Result from idx " << idx << ": " << samples::python_bool(value) << std::endl;
    global_var_list.at(static_cast<std::size_t>(idx)) = value;
  }

  std::cout << "We're done\n";
  std::cout << "Global var at end of processing: " << samples::python_list(global_var_list) << '\n';
  return samples::children_status({p1, p2, p3, p4});
}
