// pool_map and pool_map_scaling, impl `proctor`: a proctor::pool mapping tasks over its workers.
//   bench_pool_map COUNT
//
// pool_map: pool.map(task<square>, inputs) of COUNT trivial tasks (int square(int)) on a pool of
// 2 workers, with map's default chunksize (Python's: four chunks per worker); the inputs are
// i % 46341, the largest whose squares fit an int, as pool_map.py's. The pool is started before
// the clock; one warm-up map, then eleven timed ones. Prints {"bench": "pool_map", ...}: the median
// tasks/s.
//
// pool_map_scaling: 8 CPU-bound tasks of pure arithmetic, each calibrated here to take about
// 50 ms x COUNT / 200,000 on one core (50 ms for the full COUNT, 5 ms with --quick), mapped with
// chunksize 1 on a pool of 1 worker and on a pool of 2, both started before the clock; after a
// warm-up, five timed maps on each, the two pools taking turns. Prints {"bench":
// "pool_map_scaling", "impl": "proctor-1-worker", ...} and "proctor-2-workers": the median
// milliseconds of a map. Perfect scaling halves the time; the efficiency, t1 / (2 t2), goes to
// stderr (DESIGN.md's goal: within 5% of perfect on 2 cores, i.e. at least 95%).
#include <proctor/proctor.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <vector>

#include "bench_main.hpp"

namespace {

constexpr int map_rounds = 11;    // pool_map
constexpr int scaling_rounds = 5; // pool_map_scaling, on each of the two pools
constexpr std::size_t scaling_tasks = 8;
constexpr double full_count = 200'000;
constexpr double full_task_ms = 50;

int square(int x) {
  return x * x;
}

/// Pure arithmetic that no compiler folds: `iterations` rounds of a 64-bit mix.
std::uint64_t spin(std::uint64_t iterations) {
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  for (std::uint64_t i = 0; i < iterations; ++i)
    h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull + i;
  return h;
}

/// The iterations of spin() that take about `ms` milliseconds on this machine's cores.
std::uint64_t calibrate(double ms) {
  std::uint64_t probe = 1'000'000;
  for (;;) {
    double start = bench_now_ns();
    volatile std::uint64_t sink = spin(probe);
    (void)sink;
    double took_ms = (bench_now_ns() - start) / 1e6;
    if (took_ms >= 20)
      return static_cast<std::uint64_t>(static_cast<double>(probe) * ms / took_ms);
    probe *= 2;
  }
}

/// Milliseconds of one map of F over `inputs` on `pool`; throws unless `check(input, result)`
/// holds for each.
template <auto F, class T, class Check>
double timed_map(proctor::pool& pool, const std::vector<T>& inputs, proctor::map_options mo,
                 Check check) {
  double start = bench_now_ns();
  auto results = pool.map(proctor::task<F>, inputs, mo);
  double ms = (bench_now_ns() - start) / 1e6;
  if (results.size() != inputs.size())
    throw std::runtime_error("a map returned the wrong number of results");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!check(inputs[i], results[i]))
      throw std::runtime_error("a map returned a wrong result");
  return ms;
}

/// The median tasks/s of maps of `count` trivial tasks on 2 workers.
double trivial_rate(long count) {
  std::vector<int> inputs(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    inputs[i] = static_cast<int>(i % 46341);
  auto right = [](int x, int r) { return r == x * x; };
  proctor::pool pool{2};
  timed_map<square>(pool, inputs, {}, right); // warm-up
  std::vector<double> ms;
  for (int i = 0; i < map_rounds; ++i)
    ms.push_back(timed_map<square>(pool, inputs, {}, right));
  double median = bench_median(ms.data(), ms.size()); // sorts them
  std::fprintf(stderr,
               "pool_map: proctor pool.map of %ld tasks on 2 workers: median %.1f ms "
               "(%.1f to %.1f)\n", count, median, ms.front(), ms.back());
  return static_cast<double>(count) / (median / 1e3);
}

struct scaling {
  double one_worker_ms;
  double two_workers_ms;
};

/// The median milliseconds of a map of the CPU-bound tasks on a pool of 1 worker and on a pool of
/// 2. Their rounds alternate, so that a neighbour's load on the machine weighs on both alike.
scaling cpu_bound_ms(std::uint64_t iterations) {
  std::vector<std::uint64_t> inputs(scaling_tasks, iterations);
  std::uint64_t expected = spin(iterations);
  auto right = [expected](std::uint64_t, std::uint64_t r) { return r == expected; };
  proctor::map_options one_by_one;
  one_by_one.chunksize = 1;
  proctor::pool one{1};
  proctor::pool two{2};
  auto round = [&](proctor::pool& pool) {
    return timed_map<spin>(pool, inputs, one_by_one, right);
  };
  round(one); // warm-up
  round(two);
  std::vector<double> t1, t2;
  for (int i = 0; i < scaling_rounds; ++i) {
    t1.push_back(round(one));
    t2.push_back(round(two));
  }
  return {bench_median(t1.data(), t1.size()), bench_median(t2.data(), t2.size())};
}

void print(const char* bench, const char* impl, double value, const char* unit,
           const char* better) {
  if (impl != nullptr)
    std::printf("{\"bench\": \"%s\", \"impl\": \"%s\", \"value\": %.2f, \"unit\": \"%s\", "
                "\"better\": \"%s\"}\n", bench, impl, value, unit, better);
  else
    std::printf("{\"bench\": \"%s\", \"value\": %.2f, \"unit\": \"%s\", \"better\": \"%s\"}\n",
                bench, value, unit, better);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  long count = argc == 2 ? std::atol(argv[1]) : 0;
  if (count <= 0)
    return bench::usage(argv[0], "COUNT");
  try {
    print("pool_map", nullptr, trivial_rate(count), "tasks/s", "higher");

    double task_ms = full_task_ms * static_cast<double>(count) / full_count;
    auto iterations = calibrate(task_ms);
    auto [t1, t2] = cpu_bound_ms(iterations);
    print("pool_map_scaling", "proctor-1-worker", t1, "ms", "lower");
    print("pool_map_scaling", "proctor-2-workers", t2, "ms", "lower");
    std::fprintf(stderr,
                 "pool_map_scaling: %zu tasks of ~%.1f ms: 1 worker %.1f ms, 2 workers %.1f ms; "
                 "speed-up %.2fx, efficiency %.1f%% (goal >= 95%%; cpu_count() = %u)\n",
                 scaling_tasks, task_ms, t1, t2, t1 / t2, 100 * t1 / (2 * t2),
                 proctor::cpu_count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pool_map: %s\n", e.what());
    return 1;
  }
  return 0;
}
