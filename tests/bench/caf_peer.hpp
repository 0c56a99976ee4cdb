// The skeleton the CAF 0.17 peers share (pingpong_caf.cpp, counting_caf.cpp, mailbox_n1_caf.cpp,
// threadring_caf.cpp, spawn_caf.cpp): command line, one actor system with the default scheduler (a
// worker thread per core), and the JSON line through bench_report.h. Each peer keeps its actors:
//
//   int main(int argc, char** argv) {
//     return caf_peer::run(argc, argv, "pingpong_caf",
//                          [](caf::actor_system& sys, long count, caf_peer::outcome& out) {
//                            sys.spawn(ping, count, &out); // its driver; run() awaits the actors
//                          });
//   }
#ifndef PROCTOR_BENCH_CAF_PEER_HPP
#define PROCTOR_BENCH_CAF_PEER_HPP

#include <caf/all.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_report.h"

namespace caf_peer {

/// What a driver actor leaves for main: its figure, or what went wrong.
/// @note Written by the driver before it quits; main reads it after await_all_actors_done(), which
///       orders the two.
struct outcome {
  double value = 0;
  const char* unit = "";
  const char* better = "";
  std::string error = "the driver quit without a figure";

  void set(double v, const char* u, const char* b) {
    value = v;
    unit = u;
    better = b;
    error.clear();
  }

  /// Throws the driver's error, if it left one.
  void check() const {
    if (!error.empty())
      throw std::runtime_error(error);
  }
};

/// The median of `samples` (not empty); reorders them.
inline double median(std::vector<double>& samples) {
  return bench_median(samples.data(), samples.size());
}

/// main for a peer whose command line is `COUNT`: starts an actor system, calls
/// `measure(sys, count, out)` (which spawns the actors, one of them writing `out`), waits until
/// every actor is done and prints the figure. Returns main's exit code: 0; 1 after printing
/// "NAME: what" to stderr if it failed; 2 after printing the usage if COUNT is missing or not
/// positive.
template <class Measure>
int run(int argc, char** argv, const char* name, Measure measure) {
  long count = argc == 2 ? std::atol(argv[1]) : 0;
  if (count <= 0) {
    std::fprintf(stderr, "usage: %s COUNT\n", argv[0]);
    return 2;
  }
  try {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    outcome out;
    measure(sys, count, out);
    sys.await_all_actors_done();
    out.check();
    bench_print(out.value, out.unit, out.better);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  return 0;
}

} // namespace caf_peer

#endif
