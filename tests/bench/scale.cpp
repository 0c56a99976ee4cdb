// scale_start, scale_stop, scale_pss, scale_idle_cpu, impl `proctor`: COUNT idle actor processes
// under one tree — a root supervisor over COUNT/1000 (at least 1) pool supervisors of up to 1,000
// idle workers each.
//   bench_scale COUNT
// Prints four JSON lines, each naming its bench:
//   scale_start     seconds from start_supervisor() until every actor has reported ready;
//   scale_pss       KiB of proportional set size per idle actor, beyond its mailbox (shared
//                   memory is left out: Pss minus Pss_Shmem of /proc/PID/smaps_rollup);
//   scale_idle_cpu  percent of one core the whole idle tree uses over 62 seconds;
//   scale_stop      seconds for an ordered stop of the whole tree.
#include <proctor/proctor.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_main.hpp"

namespace {

constexpr int per_pool = 1000;

proctor::behavior idle(proctor::actor&) {
  return {[](std::int32_t) {}};
}

/// Pss minus Pss_Shmem of one process, in KiB (0 if it is gone).
double private_pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  double pss = 0, shmem = 0;
  while (std::getline(in, line)) { // "Pss:   123 kB"; the first line names the range
    std::istringstream fields(line);
    std::string key;
    double value = 0;
    if (!(fields >> key >> value))
      continue;
    if (key == "Pss:")
      pss = value;
    else if (key == "Pss_Shmem:")
      shmem = value;
  }
  return pss - shmem;
}

/// Nanoseconds one process has run on a CPU (0 if it is gone): /proc/PID/schedstat, exact where
/// utime and stime, sampled at clock ticks, would miss short wake-ups altogether.
double cpu_ns(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  double ns = 0;
  in >> ns;
  return ns;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  long count = argc == 2 ? std::atol(argv[1]) : 0;
  if (count <= 0)
    return bench::usage(argv[0], "COUNT");
  try {
    proctor::supervisor_spec root;
    long left = count;
    for (int p = 0; left > 0; ++p) {
      proctor::supervisor_spec pool;
      auto n = std::min<long>(left, per_pool);
      left -= n;
      for (long i = 0; i < n; ++i) {
        proctor::child_spec c{"idle-" + std::to_string(i), proctor::child<idle>()};
        c.mailbox_bytes = 16 * 1024;
        pool.children.push_back(c);
      }
      proctor::child_spec pc{"pool-" + std::to_string(p), proctor::supervisor_child(pool, "")};
      pc.type = proctor::child_type::supervisor;
      pc.shutdown = proctor::shutdown_spec::infinity();
      pc.start_timeout = std::chrono::minutes(5);
      root.children.push_back(pc);
    }
    auto t0 = std::chrono::steady_clock::now();
    auto sup = proctor::start_supervisor(root, {.name = "scale-root", .start_timeout = std::chrono::minutes(10)});
    double start_s = seconds_since(t0);

    std::vector<pid_t> pids;
    std::vector<pid_t> actors;
    for (auto& pool : *proctor::which_children(sup)) {
      pids.push_back(pool.pid);
      for (auto& w : *proctor::which_children(pool.ref)) {
        pids.push_back(w.pid);
        actors.push_back(w.pid);
      }
    }
    if (static_cast<long>(actors.size()) != count)
      throw std::runtime_error("scale: not every actor runs");
    std::this_thread::sleep_for(std::chrono::seconds(1)); // let start-up settle
    double pss = 0;
    for (auto pid : actors)
      pss += private_pss_kib(pid);
    double before = 0, after = 0;
    for (auto pid : pids)
      before += cpu_ns(pid);
    auto idle_t0 = std::chrono::steady_clock::now();
    // Longer than an idle actor's recheck of its mailbox (60 s), so that every recheck is
    // counted once: all the actors started within the last few seconds, so a shorter window
    // would see none.
    std::this_thread::sleep_for(std::chrono::seconds(62));
    for (auto pid : pids)
      after += cpu_ns(pid);
    double idle_s = seconds_since(idle_t0);
    double cpu_percent = (after - before) / 1e9 / idle_s * 100;

    auto t1 = std::chrono::steady_clock::now();
    if (!proctor::stop_supervisor(sup, std::chrono::minutes(10)))
      throw std::runtime_error("scale: the tree did not stop");
    double stop_s = seconds_since(t1);

    std::printf("{\"bench\": \"scale_start\", \"value\": %.3f, \"unit\": \"s\", \"better\": \"lower\"}\n", start_s);
    std::printf("{\"bench\": \"scale_pss\", \"value\": %.1f, \"unit\": \"KiB\", \"better\": \"lower\"}\n",
                pss / static_cast<double>(actors.size()));
    std::printf("{\"bench\": \"scale_idle_cpu\", \"value\": %.3f, \"unit\": \"%%\", \"better\": \"lower\"}\n",
                cpu_percent);
    std::printf("{\"bench\": \"scale_stop\", \"value\": %.3f, \"unit\": \"s\", \"better\": \"lower\"}\n",
                stop_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scale: %s\n", e.what());
    return 1;
  }
  return 0;
}
