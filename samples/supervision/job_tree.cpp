// The main job of `scripts/demo`: a supervision tree doing real work while its workers fail.
//
//   root (one_for_one)
//   └── pool (one_for_one, backoff)          a nested supervisor
//       ├── steady-1, steady-2               count primes, never fail
//       ├── flaky     sometimes segfaults (about 1 job in 8)
//       ├── sleepy    sometimes hangs (about 1 job in 10): its watchdog kills it after 300 ms
//       └── greedy    sometimes runs out of memory (about 1 job in 10) under a 256 MiB limit
//
// main sends a stream of jobs (count the primes in a range) round-robin to the workers, through
// refs that stay valid across restarts: a job in the mailbox of a worker that crashes waits for
// the next incarnation. One job is poison (it crashes every worker that touches it): after three
// crashes on it, the supervisor moves it to the dead letters. Crash reports are printed as they
// happen; at the end a summary accounts for every job: handled or dead-lettered.
#include <proctor/proctor.hpp>

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/sample_options.hpp"

using namespace std::chrono_literals;

struct job {
  std::int32_t id = 0;
  std::int64_t from = 0;
  std::int64_t to = 0;
  bool poison = false;
  proctor::actor_ref reply_to;
};

struct job_done {
  std::int32_t id = 0;
  std::int64_t primes = 0;
  std::string worker;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job& x) {
  return f(caf::meta::type_name("job"), x.id, x.from, x.to, x.poison, x.reply_to);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_done& x) {
  return f(caf::meta::type_name("job_done"), x.id, x.primes, x.worker);
}

PROCTOR_MESSAGE(job, "demo.job");
PROCTOR_MESSAGE(job_done, "demo.job_done");

namespace {

/// How a worker misbehaves, now and then.
enum class temper : std::int32_t { steady, flaky, sleepy, greedy };

std::int64_t count_primes(std::int64_t from, std::int64_t to) {
  std::int64_t n = 0;
  for (auto k = std::max<std::int64_t>(from, 2); k < to; ++k) {
    bool prime = true;
    for (std::int64_t d = 2; d * d <= k; ++d)
      if (k % d == 0) {
        prime = false;
        break;
      }
    n += prime ? 1 : 0;
  }
  return n;
}

bool one_in(unsigned n) {
  unsigned r = 0;
  (void)::getrandom(&r, sizeof r, 0);
  return r % n == 0;
}

class worker {
 public:
  worker(proctor::actor& self, std::string name, std::int32_t how)
    : self_(self), name_(std::move(name)), temper_(static_cast<temper>(how)) {}

  proctor::behavior make_behavior() {
    return {[this](const job& j) {
      misbehave(j);
      (void)self_.send(j.reply_to, job_done{j.id, count_primes(j.from, j.to), name_});
    }};
  }

 private:
  void misbehave(const job& j) {
    if (j.poison) {
      std::fprintf(stderr, "%s: job %d is poison\n", name_.c_str(), j.id);
      std::raise(SIGSEGV);
    }
    switch (temper_) {
      case temper::steady:
        break;
      case temper::flaky:
        if (one_in(8)) {
          std::fprintf(stderr, "%s: job %d: oops, a wild pointer\n", name_.c_str(), j.id);
          std::raise(SIGSEGV);
        }
        break;
      case temper::sleepy:
        if (one_in(10)) {
          std::fprintf(stderr, "%s: job %d: waiting for something that never comes\n",
                       name_.c_str(), j.id);
          std::this_thread::sleep_for(1h);
        }
        break;
      case temper::greedy:
        if (one_in(10)) {
          std::fprintf(stderr, "%s: job %d: building a very large table\n", name_.c_str(), j.id);
          std::vector<std::vector<char>> hog;
          for (;;)
            hog.emplace_back(64 << 20, 'x'); // until the 256 MiB limit says no
        }
        break;
    }
  }

  proctor::actor& self_;
  std::string name_;
  temper temper_;
};

proctor::child_spec worker_spec(const std::string& id, temper how) {
  proctor::child_spec s{id, proctor::child<worker>(id, static_cast<std::int32_t>(how))};
  s.shutdown = proctor::shutdown_spec::after(1s);
  if (how == temper::sleepy)
    s.watchdog = 300ms;
  if (how == temper::greedy)
    s.limits.memory_bytes = 256ull << 20;
  return s;
}

proctor::actor_ref child_ref(const proctor::actor_ref& sup, const std::string& id) {
  auto kids = proctor::which_children(sup);
  if (kids)
    for (auto& k : *kids)
      if (k.id == id)
        return k.ref;
  throw std::runtime_error("no child " + id);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto opts = samples::apply_options(argc, argv, "a supervision tree processing jobs while its workers crash");
  const int jobs = static_cast<int>(samples::scaled(120, opts.scale));
  const int poison_job = jobs / 2;

  proctor::supervisor_spec pool;
  pool.flags.intensity = 100;
  pool.flags.period = 10s;
  pool.flags.backoff_initial = 10ms;
  pool.flags.backoff_max = 200ms;
  pool.flags.stable_after = 1s;
  pool.flags.max_crashes_per_message = 3;
  pool.flags.log_crash_reports = false; // this program prints each report as it comes (below)
  pool.children = {worker_spec("steady-1", temper::steady), worker_spec("steady-2", temper::steady),
                   worker_spec("flaky", temper::flaky), worker_spec("sleepy", temper::sleepy),
                   worker_spec("greedy", temper::greedy)};

  proctor::supervisor_spec root;
  proctor::child_spec pool_child{"pool", proctor::supervisor_child(pool, "pool")};
  pool_child.type = proctor::child_type::supervisor;
  pool_child.shutdown = proctor::shutdown_spec::infinity();
  root.children = {pool_child};

  std::printf("starting the tree: root -> pool -> 5 workers (each its own process)\n");
  auto root_ref = proctor::start_supervisor(root, {.name = "root"});
  auto pool_ref = child_ref(root_ref, "pool");
  std::vector<proctor::actor_ref> workers;
  for (auto& k : *proctor::which_children(pool_ref)) {
    std::printf("  %-9s pid %d\n", k.id.c_str(), k.pid);
    workers.push_back(k.ref);
  }

  proctor::scoped_actor self{"dispatcher"};
  (void)proctor::subscribe_crash_reports(pool_ref, self.ref());

  std::printf("\nsending %d jobs (job %d is poison)\n\n", jobs, poison_job);
  for (int i = 0; i < jobs; ++i) {
    job j{i, std::int64_t{i} * 20000, std::int64_t{i + 1} * 20000, i == poison_job, self.ref()};
    if (auto sent = self.send(workers[static_cast<std::size_t>(i) % workers.size()], j); !sent)
      std::printf("job %d not sent: %s\n", i, to_string(sent.error()).c_str());
  }

  std::set<int> handled;
  std::map<int, int> handled_twice;
  std::map<std::string, int> crashes_by_child;
  std::int64_t primes = 0;
  std::set<int> dead; // jobs the pool moved aside, read from its dead letters
  std::set<std::ptrdiff_t> seen_letters; // letters that name no job, reported once each
  auto accounted = [&] {
    std::size_t n = handled.size();
    for (int d : dead)
      n += handled.count(d) == 0 ? 1 : 0;
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (accounted() < static_cast<std::size_t>(jobs)
         && std::chrono::steady_clock::now() < deadline) {
    bool got = self.receive(
      500ms,
      [&](const job_done& d) {
        if (!handled.insert(d.id).second) {
          ++handled_twice[d.id]; // at-least-once: a crash between reply and removal
          return;
        }
        primes += d.primes;
        if (handled.size() % 20 == 0)
          std::printf("  ... %zu jobs done\n", handled.size());
      },
      [&](const proctor::crash_report& r) {
        ++crashes_by_child[r.child_id];
        std::printf("  [pool] %s crashed: %s%s%s -> %s\n", r.child_id.c_str(),
                    to_string(r.reason).c_str(), r.in_flight.empty() ? "" : ", handling a ",
                    r.in_flight.c_str(), r.action.c_str());
      });
    if (!got) { // quiet: ask which jobs the pool moved aside
      // The poison job, and now and then another that a worker happened to crash on three times
      // running. A dead letter holds the message itself.
      if (auto letters = proctor::dead_letters(pool_ref))
        for (auto& letter : *letters) {
          auto j = letter.message<job>();
          if (!j || j->id < 0 || j->id >= jobs) {
            if (seen_letters.insert(&letter - letters->data()).second)
              std::printf("  [pool] a dead letter (%s) that names no job sent here\n",
                          letter.type.c_str());
          } else if (dead.insert(j->id).second) {
            std::printf("  [pool] job %d moved to the dead letters after %u crashes of %s\n",
                        j->id, letter.crashes, letter.child_id.c_str());
          }
        }
    }
  }
  std::size_t dead_lettered = 0, dead_and_handled = 0;
  for (int d : dead)
    ++(handled.count(d) == 0 ? dead_lettered : dead_and_handled);

  std::printf("\nsummary\n");
  std::printf("  jobs sent:          %d\n", jobs);
  std::printf("  handled:            %zu (primes counted: %lld)\n", handled.size(),
              static_cast<long long>(primes));
  std::printf("  dead-lettered:      %zu", dead_lettered);
  for (int d : dead)
    if (handled.count(d) == 0)
      std::printf(" (job %d)", d);
  if (dead_and_handled != 0) // a worker crashed after its reply, before the job left its mailbox
    std::printf("\n  dead-lettered after being handled: %zu", dead_and_handled);
  std::printf("\n  handled twice:      %zu\n", handled_twice.size());
  std::printf("  unaccounted for:    %zu\n",
              static_cast<std::size_t>(jobs) - std::min(static_cast<std::size_t>(jobs),
                                                         handled.size() + dead_lettered));
  std::printf("  restarts per child:");
  for (auto& k : *proctor::which_children(pool_ref))
    std::printf(" %s=%u", k.id.c_str(), k.restarts);
  std::printf("\n\nstopping the tree (children in reverse order)\n");
  auto stopped = proctor::stop_supervisor(root_ref);
  std::printf("  %s\n", stopped ? "stopped" : to_string(stopped.error()).c_str());
  return handled.size() + dead_lettered == static_cast<std::size_t>(jobs) ? 0 : 1;
}
