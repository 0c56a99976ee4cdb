#include "tree_runner.hpp"

#include <signal.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <set>
#include <utility>

#include "process_tree.hpp"
#include "proctor/scoped_actor.hpp"
#include "proctor/shared_segment.hpp"
#include "proctor/supervisor.hpp"
#include "proctor/system_messages.hpp"

namespace proctor::supervise {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// What the signal handler writes and the loop reads: a handler may touch nothing else.
std::atomic<int> stop_signals_seen{0};
std::atomic<int> last_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void count_stop_signal(int sig) {
  last_stop_signal.store(sig, std::memory_order_relaxed);
  stop_signals_seen.fetch_add(1, std::memory_order_relaxed);
}

/// Counts SIGINT and SIGTERM while it lives; puts the previous handlers back after.
class stop_signal_counter {
 public:
  stop_signal_counter() {
    stop_signals_seen.store(0);
    struct sigaction sa{};
    sa.sa_handler = count_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~stop_signal_counter() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  stop_signal_counter(const stop_signal_counter&) = delete;
  stop_signal_counter& operator=(const stop_signal_counter&) = delete;

  [[nodiscard]] int seen() const noexcept {
    return stop_signals_seen.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const char* last() const noexcept {
    auto* name = ::sigabbrev_np(last_stop_signal.load(std::memory_order_relaxed));
    return name != nullptr && std::string_view{name} == "INT" ? "SIGINT" : "SIGTERM";
  }

 private:
  struct sigaction old_int_{};
  struct sigaction old_term_{};
};

/// "12:00:01.250", local time.
std::string clock_time() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  tm parts{};
  ::localtime_r(&t, &parts);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(ms));
  return buf;
}

/// One status line on standard output, with the time.
void say(const std::string& text) {
  std::printf("%s supervise: %s\n", clock_time().c_str(), text.c_str());
}

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

/// Runs one tree: the loop on the main thread that reacts to signals, the time limit, crash
/// reports and the root's end. The ordered stop (stop_supervisor, which waits) runs on a thread
/// of its own so that the loop still sees a second signal meanwhile.
class tree_runner {
 public:
  tree_runner(const tree_config& tree, run_options opts) : tree_(tree), opts_(std::move(opts)) {}

  int run() {
    stop_signal_counter signals;
    say("starting '" + tree_.name + "' from " + opts_.file);
    try {
      root_ = start_supervisor(tree_.spec, {.name = tree_.name});
    } catch (const spawn_error& e) {
      std::fprintf(stderr, "supervise: the tree did not start: %s\n", to_string(e.error()).c_str());
      return exit_failed;
    }
    self_.monitor(root_);
    if (auto ok = subscribe_crash_reports(root_, self_.ref()); !ok)
      std::fprintf(stderr, "supervise: no crash reports from the root: %s\n",
                   to_string(ok.error()).c_str());
    follow_supervisors(root_);
    say("started " + to_string(root_));
    print_children(root_, tree_.outline, 1);
    std::fflush(stdout);
    return loop(signals);
  }

 private:
  enum class phase { running, stopping, killing };

  int loop(const stop_signal_counter& signals) {
    auto started = clock::now();
    auto next_follow = started + 2s;
    for (;;) {
      if (phase_ == phase::running) {
        if (root_end_) {
          say("the tree ended on its own: " + to_string(*root_end_));
          return exit_failed;
        }
        if (signals.seen() > 0)
          begin_stop(std::string{signals.last()});
        else if (opts_.run_for && clock::now() - started >= *opts_.run_for)
          begin_stop("ran for " + seconds(*opts_.run_for));
      }
      if (phase_ == phase::stopping) {
        if (signals.seen() >= 2) {
          kill(std::string{"a second "} + signals.last());
        } else if (stopped_.wait_for(0s) == std::future_status::ready) {
          if (auto r = stopped_.get(); !r) {
            kill("the ordered stop failed: " + to_string(r.error()));
          } else {
            return finish_stop();
          }
        }
      }
      if (phase_ == phase::killing && (root_end_ || clock::now() > kill_deadline_))
        return finish_kill();
      bool report = false;
      self_.receive(
        100ms,
        [&](const crash_report& r) {
          print_report(r);
          report = true;
        },
        [&](const down_msg& d) {
          if (d.source == root_)
            root_end_ = d.reason;
        });
      std::fflush(stdout);
      // A nested supervisor that was restarted is a new process: subscribe to it again.
      if (phase_ == phase::running && (report || clock::now() >= next_follow)) {
        follow_supervisors(root_);
        next_follow = clock::now() + 2s;
      }
    }
  }

  void begin_stop(const std::string& why) {
    say(why + ": stopping the tree in order (children in reverse order; a second signal kills it)");
    std::fflush(stdout);
    tree_procs_ = descendants();
    phase_ = phase::stopping;
    auto timeout = std::chrono::duration_cast<sup_timeout>(tree_.outline.stop_time + 5s);
    stopped_ = std::async(std::launch::async,
                          [root = root_, timeout] { return stop_supervisor(root, timeout); });
  }

  int finish_stop() {
    auto left = wait_until_gone(std::move(tree_procs_), 2s);
    if (!left.empty()) {
      std::string pids;
      for (auto& p : left)
        pids.append(" ").append(std::to_string(p.pid)); // (operator+ trips GCC 12's -Wrestrict)
      std::fprintf(stderr, "supervise: the tree stopped, but these processes still run:%s\n",
                   pids.c_str());
      return exit_failed;
    }
    say("the tree stopped in order");
    return exit_ok;
  }

  void kill(const std::string& why) {
    say(why + ": killing the tree (SIGKILL to the root supervisor; its children die with it)");
    std::fflush(stdout);
    tree_procs_ = descendants();
    self_.send_exit(root_, {exit_kind::killed, 0, false, "supervise: " + why});
    phase_ = phase::killing;
    kill_deadline_ = clock::now() + 5s;
  }

  int finish_kill() {
    auto left = wait_until_gone(std::move(tree_procs_), 2s);
    if (stopped_.valid())
      (void)stopped_.get(); // stop_supervisor returns once the root is down
    // The killed supervisors could not remove their children's mailboxes: do it for them.
    auto removed = sweep_stale_segments();
    say("the tree was killed"
        + (removed ? "; removed " + std::to_string(removed) + " shared-memory segments it left"
                   : std::string{}));
    if (!left.empty())
      std::fprintf(stderr, "supervise: %zu processes of the tree still run\n", left.size());
    return exit_failed;
  }

  /// Subscribes to the crash reports of every nested supervisor not followed yet.
  void follow_supervisors(const actor_ref& sup) {
    auto kids = which_children(sup, 2s);
    if (!kids)
      return;
    for (auto& k : *kids) {
      if (k.type != child_type::supervisor || !k.running)
        continue;
      if (followed_.emplace(k.ref.id(), k.pid).second)
        (void)subscribe_crash_reports(k.ref, self_.ref(), 2s);
      follow_supervisors(k.ref);
    }
  }

  void print_children(const actor_ref& sup, const tree_outline& outline, int depth) {
    auto kids = which_children(sup, 2s);
    for (auto& node : outline.children) {
      const child_info* info = nullptr;
      if (kids)
        for (auto& k : *kids)
          if (k.id == node.id)
            info = &k;
      std::string what =
        node.actor == "supervisor" ? node.detail + " supervisor" : node.actor + node.detail;
      std::string pid = info && info->running ? "pid " + std::to_string(info->pid) : "not running";
      std::printf("%*s%-*s %-40s %s\n", depth * 2, "", 18 - depth * 2, node.id.c_str(),
                  what.c_str(), pid.c_str());
      if (node.actor == "supervisor" && info)
        print_children(info->ref, node, depth + 1);
    }
  }

  static void print_report(const crash_report& r) {
    std::string line = r.supervisor + "/" + r.child_id;
    if (r.pid > 0)
      line += " (pid " + std::to_string(r.pid) + ")";
    line += " ended: " + to_string(r.reason);
    if (!r.in_flight.empty())
      line += ", handling a " + r.in_flight;
    line += "; " + r.action + " (restarts so far: " + std::to_string(r.restarts) + ")";
    say(line);
  }

  const tree_config& tree_;
  run_options opts_;
  scoped_actor self_{"supervise"};
  actor_ref root_;
  phase phase_ = phase::running;
  std::optional<exit_reason> root_end_;
  std::future<expected<void, actor_error>> stopped_;
  std::set<std::pair<std::uint64_t, std::int32_t>> followed_; ///< Nested supervisors: ref id, pid.
  std::vector<process_id> tree_procs_;                        ///< Taken when the stop began.
  clock::time_point kill_deadline_{};
};

} // namespace

int run_tree(const tree_config& tree, const run_options& opts) {
  return tree_runner{tree, opts}.run();
}

} // namespace proctor::supervise
