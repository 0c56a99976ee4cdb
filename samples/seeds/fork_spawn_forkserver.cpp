// Seed: "Process", section "Why if __name__ == '__main__':" (fork vs spawn, and the caution
// about threads).
//
// Lessons: the same target, run under each start method, sees a different copy of the parent:
// - fork: "the child process, when it begins, is effectively identical to the parent process":
//   it gets a copy of the parent's memory as it is at start(), so it sees main()'s changes.
// - spawn (= fork + execve): the program starts afresh from its file, so every static initializer
//   runs again in the child (the "[static initialization]" line below appears twice, as a Python
//   module's top-level code runs again) and nothing main() did is seen. main() itself must not
//   run again: proctor::init(), the first statement of main(), takes over in a spawned child and
//   runs the target instead. It is proctor's `if __name__ == '__main__':`.
// - forkserver: children are forked from a zygote, a copy of the parent taken in init(). The
//   child sees the memory as it was then: the image was loaded once, in the parent, but main()'s
//   changes after init() are not there.
// - Caution: a forked child would inherit only the forking thread, with the other threads' locks
//   possibly held. proctor refuses fork while the parent runs threads; forkserver and spawn work.
//
// --method is ignored: this sample runs every start method in turn.
#include <unistd.h>

#include <future>
#include <iostream>
#include <string>
#include <thread>

#include <proctor/proctor.hpp>

#include "support/children_status.hpp"
#include "support/sample_options.hpp"

namespace {

/// Runs while the program image loads, before main(): in the first process, and again in every
/// spawned child, since spawn loads the program afresh.
pid_t announce_image_load() {
  std::cout << "[static initialization] program image loaded in pid " << ::getpid() << '\n';
  return ::getpid();
}

const pid_t image_loaded_in = announce_image_load();

// A global on purpose: main() changes it after init(), and each child shows which value it sees.
std::string message = "set by its static initializer";

/// The target of every child: says who it is and what it sees of the parent's memory.
void show_what_i_see() {
  pid_t self = ::getpid();
  std::cout << "  child pid " << self << ", started by pid " << proctor::parent_process()->pid
            << '\n'
            << "  child sees message = \"" << message << "\"\n"
            << "  child's program image was loaded in pid " << image_loaded_in
            << (image_loaded_in == self ? " (itself: a fresh image)" : " (the parent: a copy)")
            << '\n';
}

/// What the parent explains after a child of method `m` has shown what it sees.
const char* lesson(proctor::start_method m) {
  switch (m) {
    case proctor::start_method::fork:
      return "fork copied the parent's memory at start(): main()'s change is there.";
    case proctor::start_method::forkserver:
      return "forkserver forked a copy of the parent taken at init(): the image is the parent's, "
             "main()'s later change is not there.";
    case proctor::start_method::spawn:
      return "spawn loaded the program afresh: static initializers ran again (see the line "
             "above), main() did not; init() ran the target instead.";
  }
  return "";
}

int run_under(proctor::start_method m, const char* heading_note = "") {
  std::cout << "\n-- " << proctor::to_string(m) << heading_note << '\n';
  auto child = proctor::get_context(m).make_process(proctor::entry<show_what_i_see>);
  child.start();
  child.join();
  std::cout << "  => " << lesson(m) << '\n';
  return samples::children_status({child});
}

/// The seed's caution: while a second thread runs, fork is refused and forkserver still works.
int fork_with_threads() {
  std::cout << "\n-- with a second thread running in the parent\n";
  std::promise<void> release;
  std::thread helper{[done = release.get_future()] { done.wait(); }};
  int status = 0;
  try {
    auto child = proctor::get_context(proctor::start_method::fork)
                   .make_process(proctor::entry<show_what_i_see>);
    child.start();
    status = samples::children_status({child});
    std::cout << "  fork was NOT refused: unexpected\n";
    status = 1;
  } catch (const proctor::process_error& e) {
    std::cout << "  fork refused: " << e.what() << '\n';
  }
  status |= run_under(proctor::start_method::forkserver, ", while the second thread still runs");
  release.set_value();
  helper.join();
  return status;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // the forkserver's zygote is forked here, before the change below
  samples::apply_options(argc, argv, "seed 002: what fork, spawn and forkserver children see");

  std::cout << "parent pid " << ::getpid() << ": message = \"" << message << "\"\n";
  message = "changed by main() after init()";
  std::cout << "parent pid " << ::getpid() << ": message = \"" << message << "\"\n";

  int status = 0;
  for (auto m : {proctor::start_method::fork, proctor::start_method::forkserver,
                 proctor::start_method::spawn})
    status |= run_under(m);
  status |= fork_with_threads();
  return status;
}
