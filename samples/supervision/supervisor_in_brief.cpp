#include <chrono>
#include <csignal>
#include <iostream>

#include <proctor/proctor.hpp>

struct job {
  int n;
};
PROCTOR_MESSAGE(job, "brief.job");

// A worker that crashes on job 3; its supervisor restarts it on the same mailbox.
proctor::behavior worker(proctor::actor&) {
  return {[](job j) -> int {
    if (j.n == 3)
      std::raise(SIGSEGV);
    return j.n * j.n;
  }};
}

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  proctor::supervisor_spec spec;           // one_for_one, at most 1 restart in 5 s: OTP's defaults
  spec.flags.intensity = 3;
  spec.flags.max_crashes_per_message = 1;  // a message that crashes the worker once is set aside
  spec.children.push_back({"worker", proctor::child<worker>()});
  auto sup = proctor::start_supervisor(spec);
  auto w = proctor::which_children(sup).value().front().ref;  // stays valid across restarts

  proctor::scoped_actor self;
  for (int n = 1; n <= 5; ++n) {
    auto r = self.request<int>(w, std::chrono::seconds(5), job{n});
    std::cout << "job " << n << ": " << (r ? std::to_string(*r) : to_string(r.error())) << '\n';
  }
  for (auto& report : proctor::crash_reports(sup).value())
    std::cout << to_string(report) << '\n';
  (void)proctor::stop_supervisor(sup);     // children first, in reverse order
}
