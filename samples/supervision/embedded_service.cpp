// proctor embedded in a host that already runs threads: a small "service" with four request
// threads hands CPU-heavy work to a supervised pool of worker processes, and keeps serving while a
// worker crashes.
//
// What it shows:
// - proctor::init() at the top of main, before the host starts its threads: the forkserver it
//   starts is what lets a threaded host start processes safely (fork from a threaded process is
//   refused);
// - each host thread talks to the actors through its own scoped_actor (a mailbox per thread);
// - the supervisor restarts a crashed worker on the same mailbox: the host's refs keep working.
#include <proctor/proctor.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/sample_options.hpp"

using namespace std::chrono_literals;

struct checksum_request {
  std::int64_t seed = 0;
  bool crash = false; ///< Asks the worker to fail, to show the service does not.
};
PROCTOR_MESSAGE(checksum_request, "embedded.checksum_request");

namespace {

/// CPU-heavy work a service would not want on its request threads.
std::int64_t checksum(std::int64_t seed) {
  std::uint64_t h = static_cast<std::uint64_t>(seed) * 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 200000; ++i)
    h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull + static_cast<std::uint64_t>(i);
  return static_cast<std::int64_t>(h >> 1);
}

proctor::behavior worker(proctor::actor&) {
  return {[](const checksum_request& r) -> std::int64_t {
    if (r.crash) {
      std::fprintf(stderr, "worker: asked to crash, aborting\n");
      std::abort();
    }
    return checksum(r.seed);
  }};
}

std::mutex print_mu;

template <class... Args>
void say(const char* fmt, Args... args) {
  std::lock_guard guard{print_mu};
  std::printf(fmt, args...);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first, while the host has one thread
  samples::apply_options(argc, argv, "proctor inside a host that already runs threads");

  proctor::supervisor_spec spec;
  spec.flags.intensity = 5;
  for (int i = 0; i < 2; ++i) {
    proctor::child_spec c{"worker-" + std::to_string(i + 1), proctor::child<worker>()};
    c.shutdown = proctor::shutdown_spec::after(1s);
    spec.children.push_back(c);
  }
  auto sup = proctor::start_supervisor(spec, {.name = "service-pool"});
  std::vector<proctor::actor_ref> workers;
  for (auto& k : *proctor::which_children(sup)) {
    say("worker %s runs as pid %d\n", k.id.c_str(), k.pid);
    workers.push_back(k.ref);
  }

  // The host's own threads, as a service would have them.
  std::atomic<int> served{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      proctor::scoped_actor self{"request-thread-" + std::to_string(t)};
      for (int i = 0; i < 5; ++i) {
        auto& to = workers[static_cast<std::size_t>(t + i) % workers.size()];
        bool crash = t == 1 && i == 2; // one request makes its worker crash
        auto r = self.request<std::int64_t>(to, 10s, checksum_request{t * 100 + i, crash});
        if (r) {
          ++served;
          say("thread %d: request %d -> checksum %lld\n", t, i, static_cast<long long>(*r));
        } else {
          ++failed;
          say("thread %d: request %d failed: %s\n", t, i, to_string(r.error()).c_str());
        }
      }
    });
  }
  std::thread extra([&] {
    // Starting a process with fork from a threaded host is refused, with a clear error:
    try {
      proctor::spawn<worker>(proctor::spawn_options{.method = proctor::start_method::fork});
    } catch (const std::exception& e) {
      say("fork from a threaded host is refused: %s\n", e.what());
    }
  });
  for (auto& th : threads)
    th.join();
  extra.join();

  say("\nserved %d requests, %d failed (the one whose worker crashed)\n", served.load(),
      failed.load());
  for (auto& k : *proctor::which_children(sup))
    say("  %s: pid %d, restarts %u\n", k.id.c_str(), k.pid, k.restarts);
  auto stopped = proctor::stop_supervisor(sup);
  say("pool stopped: %s\n", stopped ? "yes" : to_string(stopped.error()).c_str());
  return 0;
}
