// Pools: watching a long map progress.
//
// What a Python user writes (with tqdm, or by hand over imap):
//
//     with Pool(2) as p:
//         for done, _ in enumerate(p.imap(work, range(200), chunksize=4), 1):
//             draw_bar(done, 200)
//
// Lesson: map_options::progress is called as results come in, with (done, total), on the pool's
// thread while map() waits; here it redraws a bar in place with '\r'. Results come back a chunk
// at a time (chunksize 4 here: without one, map cuts the work into four chunks per worker, and the
// bar would move in 8 big steps). When standard output is not a terminal (a CI log, a pipe), a
// bar redrawn in place would be noise: the sample prints a plain line at every quarter instead.
//
// --scale=X multiplies the number of tasks (200 of about 10 ms each by default: about 1 s).
//
// Expected output on a terminal (one line, redrawn):
//     [########################################] 100%  200/200 tasks
//     the sum of the results: 19900
// and when standard output is not a terminal:
//     progress:  52/200 tasks (26%)
//     progress: 100/200 tasks (50%)
//     progress: 152/200 tasks (76%)
//     progress: 200/200 tasks (100%)
//     the sum of the results: 19900
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

#include "support/sample_options.hpp"

namespace {

/// About 10 ms of work, then its input back.
std::int64_t work(std::int64_t x) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
  volatile std::uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until)
    spin = spin + 1;
  return x;
}

/// "[##########------------------------------]  25%  50/200 tasks", redrawn in place.
void draw_bar(std::size_t done, std::size_t total) {
  constexpr std::size_t width = 40;
  std::size_t filled = done * width / total;
  std::string bar(filled, '#');
  bar.append(width - filled, '-');
  std::printf("\r[%s] %3zu%%  %zu/%zu tasks", bar.c_str(), done * 100 / total, done, total);
  std::fflush(stdout);
}

/// Shows the progress the pool reports: a bar redrawn in place on a terminal, else a plain line
/// each time another quarter of the tasks is done. report() runs on the pool's thread, finish()
/// on main's once map() has returned; the pool's thread may then still be about to make its last
/// report, so the two take a lock, and a report after finish() is dropped.
class progress_display {
 public:
  explicit progress_display(bool terminal) : terminal_(terminal) {}

  void report(std::size_t done, std::size_t total) {
    std::lock_guard lock{mu_};
    if (!finished_)
      show(done, total);
  }

  void finish(std::size_t total) {
    std::lock_guard lock{mu_};
    show(total, total);
    if (terminal_)
      std::printf("\n"); // the bar's line ends here
    finished_ = true;
  }

 private:
  void show(std::size_t done, std::size_t total) {
    if (total == 0)
      return;
    if (terminal_) {
      draw_bar(done, total);
      return;
    }
    std::size_t quarter = done * 4 / total;
    if (quarter <= quarters_shown_)
      return;
    quarters_shown_ = quarter;
    std::printf("progress: %3zu/%zu tasks (%zu%%)\n", done, total, done * 100 / total);
    std::fflush(stdout);
  }

  std::mutex mu_;
  bool terminal_;
  bool finished_ = false;
  std::size_t quarters_shown_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  auto options = samples::apply_options(argc, argv, "pools: a progress bar for a long map");
  auto tasks = static_cast<std::int64_t>(samples::scaled(200, options.scale));
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(tasks));
  std::iota(inputs.begin(), inputs.end(), std::int64_t{0});

  progress_display display{::isatty(STDOUT_FILENO) != 0}; // outlives the pool and its thread
  proctor::map_options mo;
  mo.chunksize = 4;
  mo.progress = [&display](std::size_t done, std::size_t total) { display.report(done, total); };

  proctor::pool pool{2};
  auto results = pool.map(proctor::task<work>, inputs, mo);
  display.finish(results.size());
  auto sum = std::accumulate(results.begin(), results.end(), std::int64_t{0});
  std::printf("the sum of the results: %lld\n", static_cast<long long>(sum));
}
