// restart_p50 and restart_p99, impl `proctor`: crash to replacement. A supervisor (one_for_one,
// permanent child, restart intensity high enough for every kill) runs one child actor. Each round
// takes the child's pid from which_children(), SIGKILLs it and at once sends a ping to the child's
// ref, which stays valid across restarts: the ping waits in the mailbox, and the new incarnation
// answers it with its pid. A round is the time from the kill to that answer (which_children and
// the wait for the last ping to leave the mailbox come before it, untimed); COUNT rounds after
// warm-up ones. The supervisor's crash report for each kill goes to stderr.
//   bench_restart MODE COUNT
// MODE `cold`: the child as specified by default, restarted by its supervisor (a new process
// from the zygote) once the kill is seen through the pidfd; `standby`: the child keeps a warm
// standby (child_spec::standby) that takes over the moment the killed process releases its
// mailbox's life lock.
// Prints two JSON lines, {"bench": "restart_p50", ...} and {"bench": "restart_p99", ...}: the
// median and the 99th percentile (nearest rank) of the rounds, in microseconds.
#include <proctor/proctor.hpp>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_main.hpp"

namespace {

struct ping {};

} // namespace

PROCTOR_MESSAGE(ping, "bench.restart.ping");

namespace {

using namespace std::chrono_literals;

constexpr int warmup_rounds = 20;

/// The supervised child: answers a ping with its pid, to the sender.
proctor::behavior responder(proctor::actor& self) {
  return {[&self](ping) {
    (void)self.send(self.current_sender(), static_cast<std::int32_t>(::getpid()));
  }};
}

/// The running child's pid, from the supervisor; throws unless it runs and is not `killed`.
/// With `standby`, first waits until the child's next standby waits (a round measures a
/// takeover, not a restart that came before the standby was ready).
proctor::child_info running_child(const proctor::actor_ref& sup, pid_t killed, bool standby) {
  auto until = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto kids = proctor::which_children(sup);
    if (!kids)
      throw std::runtime_error("which_children: " + to_string(kids.error()));
    if (kids->size() != 1)
      throw std::runtime_error("which_children: not the one child");
    const auto& k = kids->front();
    if (!k.running || k.pid <= 0 || k.pid == killed)
      throw std::runtime_error("which_children: the child is not running a new incarnation");
    if (!standby || k.standby_pid > 0)
      return k;
    if (std::chrono::steady_clock::now() >= until)
      throw std::runtime_error("the child's standby was not ready within 30 s");
    std::this_thread::sleep_for(100us);
  }
}

/// Waits until `child`'s mailbox is empty. A supervised child takes a message out of its mailbox
/// only once its handler has returned (at-least-once: a crash before that hands the message to the
/// next incarnation), so a child killed just after it answered the last ping would answer it
/// twice. Erlang's gen_server has dequeued a call before it answers it.
void wait_idle(const proctor::actor_ref& child) {
  auto until = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto s = proctor::stats(child);
    if (!s)
      throw std::runtime_error("the child's mailbox is gone");
    if (s->queued == 0)
      return;
    if (std::chrono::steady_clock::now() >= until)
      throw std::runtime_error("the child did not finish its last ping within 30 s");
    std::this_thread::yield();
  }
}

struct round_result {
  double us;
  bool by_standby; ///< The standby waiting before the kill answered.
};

/// One round: kill the child, ping its ref, wait for the replacement's answer.
round_result one_round(proctor::scoped_actor& self, const proctor::actor_ref& sup,
                       const proctor::actor_ref& child, pid_t& last, bool standby) {
  auto running = running_child(sup, last, standby);
  pid_t pid = running.pid;
  wait_idle(child);
  double start = bench_now_ns();
  if (::kill(pid, SIGKILL) != 0)
    throw std::runtime_error("kill failed");
  if (auto sent = self.send(child, ping{}); !sent)
    throw std::runtime_error("ping not sent: " + to_string(sent.error()));
  std::int32_t from = 0;
  if (!self.receive(30s, [&](std::int32_t p) { from = p; }))
    throw std::runtime_error("no answer from the replacement within 30 s");
  double elapsed = (bench_now_ns() - start) / 1e3;
  if (from == pid)
    throw std::runtime_error("the killed incarnation answered");
  last = pid;
  return {elapsed, running.standby_pid > 0 && from == running.standby_pid};
}

std::vector<round_result> measure(long count, bool standby) {
  proctor::child_spec child{"child", proctor::child<responder>()};
  child.standby = standby;
  child.restart = proctor::restart_type::permanent;
  child.shutdown = proctor::shutdown_spec::brutal_kill();
  child.mailbox_bytes = 4096;
  proctor::supervisor_spec spec;
  spec.flags.how = proctor::strategy::one_for_one;
  spec.flags.intensity = 1'000'000; // never reached: as restart.erl, {1000000, 1 s}
  spec.flags.period = 1000ms;
  spec.flags.log_crash_reports = false; // a thousand report lines would only time the terminal
  spec.children = {child};

  proctor::scoped_actor self;
  auto sup = proctor::start_supervisor(spec, {.name = "bench.restart"});
  std::vector<round_result> samples;
  std::exception_ptr failed;
  try {
    auto kids = proctor::which_children(sup);
    if (!kids || kids->size() != 1)
      throw std::runtime_error("which_children: not the one child");
    auto ref = kids->front().ref;
    pid_t last = 0;
    for (int i = 0; i < warmup_rounds; ++i)
      (void)one_round(self, sup, ref, last, standby);
    samples.reserve(static_cast<std::size_t>(count));
    for (long i = 0; i < count; ++i)
      samples.push_back(one_round(self, sup, ref, last, standby));
  } catch (...) {
    failed = std::current_exception();
  }
  auto stopped = proctor::stop_supervisor(sup);
  if (failed)
    std::rethrow_exception(failed);
  if (!stopped)
    throw std::runtime_error("stop_supervisor: " + to_string(stopped.error()));
  return samples;
}

void print(const char* bench, double value) {
  std::printf("{\"bench\": \"%s\", \"value\": %.2f, \"unit\": \"us\", \"better\": \"lower\"}\n",
              bench, value);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  std::string mode = argc == 3 ? argv[1] : "";
  long count = argc == 3 ? std::atol(argv[2]) : 0;
  if (count <= 0 || (mode != "cold" && mode != "standby"))
    return bench::usage(argv[0], "cold|standby COUNT");
  try {
    auto rounds = measure(count, mode == "standby");
    std::vector<double> samples, taken, others;
    for (const auto& r : rounds) {
      samples.push_back(r.us);
      (r.by_standby ? taken : others).push_back(r.us);
    }
    std::sort(samples.begin(), samples.end());
    std::sort(taken.begin(), taken.end());
    std::sort(others.begin(), others.end());
    double p50 = bench_median(samples.data(), samples.size());
    double p99 = bench_percentile(samples.data(), samples.size(), 0.99);
    print("restart_p50", p50);
    print("restart_p99", p99);
    std::fflush(stdout);
    double mean = 0;
    for (double v : samples)
      mean += v / static_cast<double>(samples.size());
    std::fprintf(stderr,
                 "restart: proctor (%s) p50 %.1f us, p90 %.1f us, p99 %.1f us, mean %.1f us, "
                 "p99/p50 %.2f (goal <= 3)\n",
                 mode.c_str(), p50, bench_percentile(samples.data(), samples.size(), 0.9), p99,
                 mean, p99 / p50);
    if (mode == "standby")
      std::fprintf(stderr,
                   "restart: proctor (standby) took over %zu of %zu kills (p50 %.1f us, p99 %.1f us); "
                   "its supervisor restarted the rest (p50 %.1f us)\n",
                   taken.size(), samples.size(),
                   taken.empty() ? 0.0 : bench_median(taken.data(), taken.size()),
                   taken.empty() ? 0.0 : bench_percentile(taken.data(), taken.size(), 0.99),
                   others.empty() ? 0.0 : bench_median(others.data(), others.size()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "restart: %s\n", e.what());
    return 1;
  }
  return 0;
}
