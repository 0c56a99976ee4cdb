// Pools: the reason to have one. CPU-bound work split over processes runs on every core at once.
//
// What a Python user writes:
//
//     def count_primes(start):                      # primes in [start, start + 125_000)
//         return sum(is_prime(n) for n in range(start, start + 125_000))
//
//     for workers in (1, os.cpu_count()):
//         with Pool(workers) as p:
//             t = time.perf_counter()
//             total = sum(p.map(count_primes, range(0, 5_000_000, 125_000), chunksize=1))
//             print(workers, total, time.perf_counter() - t)
//
// Lesson: the same map, timed on a pool of one worker and on a pool of cpu_count() workers. Each
// worker is a process of its own, so the work spreads over the cores with nothing shared and no
// lock to contend for: on two idle cores the second run takes about half the time. The pools are
// started before the clock starts (starting a worker costs a few milliseconds, once). The ranges
// grow costlier toward the end, so the map hands them out one at a time (chunksize 1): no worker
// is left with a big last chunk while the other waits. The speed-up depends on what else the
// machine is doing; with one CPU there is none to have.
//
// --scale=X multiplies the range (5,000,000 numbers by default: about 2 s on two cores).
//
// Expected output (times differ):
//     counting the primes below 5000000 in 40 ranges, by trial division
//     1 worker:   348513 primes in 1.24 s
//     2 workers:  348513 primes in 0.64 s
//     speed-up: 1.94x with 2 workers (cpu_count() = 2)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

constexpr std::int64_t range_size = 125'000;

bool is_prime(std::int64_t n) {
  if (n < 2)
    return false;
  if (n % 2 == 0)
    return n == 2;
  for (std::int64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0)
      return false;
  return true;
}

/// The primes in [start, start + range_size).
std::int64_t count_primes(std::int64_t start) {
  std::int64_t count = 0;
  for (std::int64_t n = start; n < start + range_size; ++n)
    count += is_prime(n) ? 1 : 0;
  return count;
}

struct timed_count {
  std::int64_t primes;
  double seconds;
};

/// Maps count_primes over `starts` on a pool of `workers`, timing the map alone; prints the result.
timed_count run_on(std::size_t workers, const std::vector<std::int64_t>& starts) {
  proctor::pool pool{workers};
  auto begin = std::chrono::steady_clock::now();
  auto counts = pool.map(proctor::task<count_primes>, starts, {.chunksize = 1});
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
  timed_count result{std::accumulate(counts.begin(), counts.end(), std::int64_t{0}), took.count()};
  std::printf("%zu %-8s %7lld primes in %.2f s\n", workers, workers == 1 ? "worker:" : "workers:",
              static_cast<long long>(result.primes), result.seconds);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(
    argc, argv, "pools: a CPU-heavy map on 1 worker, then on cpu_count() workers");
  auto ranges = static_cast<std::int64_t>(samples::scaled(40, options.scale));
  std::vector<std::int64_t> starts;
  for (std::int64_t i = 0; i < ranges; ++i)
    starts.push_back(i * range_size);
  std::printf("counting the primes below %lld in %lld ranges, by trial division\n",
              static_cast<long long>(ranges * range_size), static_cast<long long>(ranges));

  std::size_t cpus = proctor::cpu_count();
  auto one = run_on(1, starts);
  auto all = run_on(cpus, starts);
  std::printf("speed-up: %.2fx with %zu workers (cpu_count() = %zu)\n", one.seconds / all.seconds,
              cpus, cpus);
  if (one.primes != all.primes) {
    std::fprintf(stderr, "cpu_speedup: the two runs disagree\n");
    return 1;
  }
}
