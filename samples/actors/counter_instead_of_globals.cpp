// Seed: "Multiprocessing in Python Guide", section "Python Multiprocessing Process Class"
// (heavy_op1 and global_var_list, four processes), done the actor way.
//
// samples/seeds/globals_not_shared shows the problem: each child sets a slot of ITS OWN copy of
// global_var_list, and the parent's list ends as it began, [None, None, None, None]. The actor
// answer: the state has one owner. A `list keeper` actor holds the list (and a counter of the
// numbers sorted); nobody else can touch it. Each worker, an actor in its own process, sends the
// keeper a message saying which slot it filled, and the keeper — the only writer — sets it.
// Messages reach the keeper one at a time, so no lock is needed: message passing replaces the
// shared global.
//
// The keeper registers itself under the name "global_var_list" (proctor::register_name), and the
// workers find it with proctor::whereis: a name any process of the program can look up, where the
// seed had a global variable. main() monitors the workers, waits for their four DOWN messages, then
// asks the keeper for the final state with a request — and prints its own global, untouched.
//
// The seed sorts 10, 70, 40 and 20 million numbers; this port sorts a tenth of that by default,
// which takes a couple of seconds on two cores. --scale=10 gives the seed's sizes.
//
// Expected output (the order of the workers' lines will differ):
//     Global var before starting: [None, None, None, None]
//     list keeper (pid 101) owns global_var_list: [None, None, None, None]
//     Started with n: 1000000
//     Setting global var at idx: 0
//     ...
//     Function idx:  1 [True, None, None, None]      <- the worker's own copy: one slot set
//     list keeper (pid 101): worker 1 filled slot 0: [True, None, None, None]
//     ...
//     main: all 4 workers ended (normal)
//     main asks the keeper: [True, True, True, True], 14000000 numbers sorted
//     Global var at end of processing: [None, None, None, None]
#include <array>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/heavy_work.hpp"
#include "support/python_style.hpp"
#include "support/sample_options.hpp"

namespace {

using slot_list = std::array<std::optional<bool>, 4>;

// A global on purpose: the one the workers cannot share. Each process has its own copy.
slot_list global_var_list;

constexpr const char* keeper_name = "global_var_list";

struct sort_job {
  std::int32_t idx; ///< main -> a worker: sort n numbers, then report slot idx as done.
  std::int64_t n;
};
struct slot_done {
  std::int32_t idx; ///< a worker -> the keeper: slot idx is done, n numbers sorted.
  std::int64_t n;
};
struct get_list {}; ///< main -> the keeper, as a request: answered with a list_state.

/// The keeper's state, as a reply. It holds a vector, so it is not trivially copyable: an
/// `inspect` overload says how CAF serializes it.
struct list_state {
  std::vector<std::int8_t> slots; ///< 1 for True, 0 for None.
  std::int64_t numbers_sorted = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_state& x) {
  return f(caf::meta::type_name("list_state"), x.slots, x.numbers_sorted);
}

} // namespace

PROCTOR_MESSAGE(sort_job, "samples.globals.sort_job");
PROCTOR_MESSAGE(slot_done, "samples.globals.slot_done");
PROCTOR_MESSAGE(get_list, "samples.globals.get_list");
PROCTOR_MESSAGE(list_state, "samples.globals.list_state");

namespace {

/// Owns the list: the only code in the program that writes it.
class list_keeper {
 public:
  explicit list_keeper(proctor::actor& self) : self_(self) {}

  /// Runs in the keeper's process before spawn() returns: the name is there for the workers.
  void init() {
    if (!proctor::register_name(keeper_name, self_.ref()))
      throw std::runtime_error("the name global_var_list is taken");
    std::cout << "list keeper (pid " << proctor::current_process().pid << ") owns " << keeper_name
              << ": " << samples::python_list(list_) << std::endl;
  }

  proctor::behavior make_behavior() {
    return {
      [this](const slot_done& done) {
        list_.at(static_cast<std::size_t>(done.idx)) = true;
        numbers_sorted_ += done.n;
        std::cout << "list keeper (pid " << proctor::current_process().pid << "): "
                  << self_.current_sender().name() << " filled slot " << done.idx << ": "
                  << samples::python_list(list_) << std::endl;
      },
      [this](get_list) { // a request: what the handler returns is the reply
        list_state state{{}, numbers_sorted_};
        for (const auto& slot : list_)
          state.slots.push_back(slot ? 1 : 0);
        return state;
      },
    };
  }

 private:
  proctor::actor& self_;
  slot_list list_;
  std::int64_t numbers_sorted_ = 0;
};

/// The seed's heavy_op1: sorts n random numbers, sets its own copy of the global (to show that
/// it is its own), and reports the result to the keeper. One job, then the worker quits.
proctor::behavior worker(proctor::actor& self) {
  return {[&self](const sort_job& job) {
    std::cout << "Started with n: " << job.n << std::endl;
    std::cout << "Setting global var at idx: " << job.idx << std::endl;
    global_var_list.at(static_cast<std::size_t>(job.idx)) = true; // this process's copy only
    auto x = samples::sorted_random_numbers(static_cast<std::size_t>(job.n));
    std::cout << "Function idx:  " << job.idx + 1 << ' ' << x.size() << std::endl;
    std::cout << "Function idx:  " << job.idx + 1 << ' ' << samples::python_list(global_var_list)
              << std::endl;
    // The result goes to the list's owner. A failed send throws: the exit reason tells main.
    if (!self.send(proctor::whereis(keeper_name), slot_done{job.idx, job.n}))
      throw std::runtime_error("the list keeper is gone");
    self.quit();
  }};
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "seed 001: four heavy sorts report to an actor that owns the list");
  auto size = [&](std::int64_t seed_millions) {
    return static_cast<std::int64_t>(samples::scaled(seed_millions * 100'000, options.scale));
  };
  std::cout << "Global var before starting: " << samples::python_list(global_var_list)
            << std::endl;

  proctor::scoped_actor self{"main"};
  auto keeper = proctor::spawn<list_keeper>(proctor::spawn_options{.name = "list keeper"});

  const std::array<std::int64_t, 4> sizes{size(10), size(70), size(40), size(20)};
  for (std::int32_t idx = 0; idx < 4; ++idx) {
    auto name = "worker " + std::to_string(idx + 1);
    auto w = proctor::spawn<worker>(proctor::spawn_options{.name = name});
    self.monitor(w); // a DOWN message when it ends
    (void)self.send(w, sort_job{idx, sizes[static_cast<std::size_t>(idx)]});
  }

  // Wait until every worker has ended. A worker sends its result before it ends, so by the time
  // main sees its DOWN, the result is already in the keeper's mailbox, ahead of main's request.
  int status = 0;
  for (int ended = 0; ended < 4; ++ended) {
    bool got = self.receive(std::chrono::minutes{2}, [&](const proctor::down_msg& down) {
      if (!down.reason.is_normal()) {
        std::cerr << "main: " << down.source << " failed: " << to_string(down.reason) << '\n';
        status = 1;
      }
    });
    if (!got) {
      std::cerr << "counter_instead_of_globals: a worker did not finish\n";
      return 1;
    }
  }
  std::cout << "main: all 4 workers ended" << (status == 0 ? " (normal)" : "") << std::endl;

  auto state = self.request<list_state>(keeper, std::chrono::seconds{5}, get_list{});
  if (!state) {
    std::cerr << "main: the keeper did not answer: " << to_string(state.error()) << '\n';
    return 1;
  }
  slot_list kept;
  for (std::size_t i = 0; i < kept.size() && i < state->slots.size(); ++i)
    if (state->slots[i] != 0)
      kept[i] = true;
  std::cout << "main asks the keeper: " << samples::python_list(kept) << ", "
            << state->numbers_sorted << " numbers sorted" << std::endl;
  std::cout << "Global var at end of processing: " << samples::python_list(global_var_list)
            << std::endl;
  std::cout << "The workers' writes to their own copies of the global were lost; their messages "
               "to the list's owner were not."
            << std::endl;

  // Stop the keeper as a supervisor would: an exit signal with reason shutdown.
  self.monitor(keeper);
  self.send_exit(keeper, {.kind = proctor::exit_kind::shutdown, .detail = "main is done with it"});
  if (!self.receive(std::chrono::seconds{5}, [](const proctor::down_msg&) {}))
    return 1;
  return status;
}
