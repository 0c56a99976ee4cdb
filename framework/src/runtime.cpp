#include "runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "exit_request.hpp"
#include "forkserver.hpp"
#include "process_state.hpp"
#include "proctor/entry.hpp"
#include "proctor/process.hpp"

namespace proctor::detail {

runtime& runtime::get() {
  static runtime* instance = new runtime; // never destroyed: atexit handlers and children use it
  return *instance;
}

runtime::runtime() {
  std::atexit([] {
    auto& rt = runtime::get();
    rt.shutdown_children();
    rt.stop_zygote();
  });
}

process_info runtime::self() const {
  std::lock_guard guard{mu_};
  return {name_, ::getpid(), daemon_};
}

std::optional<process_info> runtime::parent() const {
  std::lock_guard guard{mu_};
  return parent_;
}

std::string runtime::next_ident() {
  std::lock_guard guard{mu_};
  auto n = std::to_string(++counter_);
  return ident_.empty() ? n : ident_ + ":" + n;
}

namespace {

/// Ends `member`'s part in this process without destroying what it held: in a forked child, the
/// parent's objects are not this child's to tear down, and destroying them would write to (so
/// copy, one page fault each) heap pages the child otherwise leaves shared with its parent.
template <class T>
void forget_inherited(T& member) noexcept {
  std::construct_at(std::addressof(member));
}

} // namespace

void runtime::become_child(const launch_request& req) {
  std::lock_guard guard{mu_};
  name_ = req.name;
  ident_ = req.ident;
  daemon_ = req.daemon;
  counter_ = 0;
  parent_ = process_info{req.parent_name, req.parent_pid, false};
  // The parent's children are not ours: drop their descriptors without waiting on them (in the
  // objects, which handles copied into the child may still reach).
  for (auto& child : children_) {
    child->child.pidfd.reset();
    child->child.status.reset();
  }
  children_.clear();
  // Nor are its zygotes, which nothing in the child reaches but these pointers: close their
  // descriptors and forget them. (Destroying them cost a forked child about 8 us of the 208 us
  // that a fork start and join took.)
  if (zygote_)
    zygote_->close_inherited();
  forget_inherited(zygote_);
  for (auto& retired : retired_zygotes_)
    retired->close_inherited();
  forget_inherited(retired_zygotes_);
  zygote_starting_ = false; // a zygote is forked while this flag is set
  finish_word_.store(nullptr); // the parent's, in a mapping a forked child may not have
}

void runtime::adopt(std::shared_ptr<process_state> child) {
  std::lock_guard guard{mu_};
  children_.push_back(std::move(child));
}

void runtime::forget(const process_state* child) {
  std::lock_guard guard{mu_};
  std::erase_if(children_, [&](const auto& c) { return c.get() == child; });
}

std::vector<std::shared_ptr<process_state>> runtime::live_children() {
  std::vector<std::shared_ptr<process_state>> all;
  {
    std::lock_guard guard{mu_};
    all = children_;
  }
  std::vector<std::shared_ptr<process_state>> live;
  for (auto& state : all) {
    try {
      process handle{state};
      if (handle.is_alive()) // reaps, and forgets, the ones that ended
        live.push_back(std::move(state));
    } catch (const std::exception& e) { // one broken child must not block every start()
      std::cerr << "proctor: forgetting a child that cannot be polled: " << e.what() << '\n';
      forget(state.get());
    }
  }
  return live;
}

void runtime::reap_ended_children() {
  {
    std::lock_guard guard{mu_};
    if (++starts_since_reap_ * 8 < children_.size())
      return;
    starts_since_reap_ = 0;
  }
  (void)live_children();
}

void runtime::shutdown_children() noexcept {
  // As multiprocessing at exit: daemons are terminated, the others joined. A daemon that ignores
  // SIGTERM gets SIGKILL after a grace period: an exit never hangs on it.
  constexpr auto daemon_grace = std::chrono::seconds(5);
  auto live = live_children();
  for (auto& state : live) {
    try {
      process handle{state};
      if (handle.daemon())
        handle.terminate();
    } catch (const std::exception& e) {
      std::cerr << "proctor: at exit, terminating a daemon child: " << e.what() << '\n';
    }
  }
  for (auto& state : live) {
    try {
      process handle{state};
      if (handle.daemon() && !handle.join(daemon_grace))
        handle.kill();
      handle.join();
    } catch (const std::exception& e) {
      std::cerr << "proctor: at exit, joining a child: " << e.what() << '\n';
    }
  }
}

void runtime::mark_init(int argc, char** argv) {
  std::lock_guard guard{mu_};
  init_called_ = true;
  if (argc > 0 && argv != nullptr && argv[0] != nullptr)
    argv0_ = argv[0];
}

std::shared_ptr<forkserver_client> runtime::zygote() {
  return zygote(init_called_ ? forkserver_client::origin::fresh : forkserver_client::origin::fork);
}

std::shared_ptr<forkserver_client> runtime::zygote(forkserver_client::origin how) {
  std::unique_lock lock{mu_};
  zygote_ready_.wait(lock, [this] { return !zygote_starting_; });
  if (zygote_ && !zygote_->alive())
    zygote_.reset(); // reaps the dead one; a new one starts below if this process may fork
  std::erase_if(retired_zygotes_, [](const auto& z) { return !z->alive(); }); // reaped
  if (zygote_ && current_confinement() != zygote_->started_as()) {
    // This process changed who it acts as (dropped root, say), or confined itself (resource
    // limits, no_new_privs, seccomp), since the zygote started, which would fork children as it
    // was. It takes no request from here on (nor could a process that took this one over make
    // it fork one); the children it started run on. A new one starts below, as this process is
    // now.
    zygote_->retire();
    retired_zygotes_.push_back(std::move(zygote_));
  }
  if (zygote_)
    return zygote_;
  // Fork with no lock held: the zygote must not inherit one locked. Other threads wait above.
  zygote_starting_ = true;
  lock.unlock();
  std::unique_ptr<forkserver_client> started;
  try {
    started = forkserver_client::start(how);
  } catch (...) {
    lock.lock();
    zygote_starting_ = false;
    zygote_ready_.notify_all();
    throw;
  }
  lock.lock();
  zygote_ = std::move(started);
  zygote_starting_ = false;
  zygote_ready_.notify_all();
  return zygote_;
}

void runtime::start_zygote_if_possible(bool at_init) noexcept {
  try {
    if (thread_count() != 1)
      return;
    if (at_init)
      zygote(forkserver_client::origin::fork); // its children: copies of the program as it is now
    else
      zygote();
  } catch (const std::exception& e) {
    std::cerr << "proctor: cannot start the forkserver: " << e.what() << '\n';
  }
}

void runtime::stop_zygote() noexcept {
  std::shared_ptr<forkserver_client> z;
  std::vector<std::shared_ptr<forkserver_client>> retired;
  {
    std::lock_guard guard{mu_};
    z = std::move(zygote_);
    retired.swap(retired_zygotes_);
  }
  z.reset(); // closes the channel and reaps the zygote
  retired.clear(); // the same: a retired one ends at once then, taking its children with it
}

bool runtime::has_zygote() const {
  std::lock_guard guard{mu_};
  return zygote_ != nullptr;
}

pid_t runtime::zygote_pid() const {
  std::lock_guard guard{mu_};
  return zygote_ ? zygote_->pid() : 0;
}

void run_child_target(const std::function<void()>& target) {
  int code = 0;
  try {
    target();
  } catch (const exit_request& req) {
    code = req.code;
  } catch (const std::exception& e) {
    auto self = runtime::get().self();
    std::cerr << "process '" << self.name << "' (pid " << self.pid
              << "): uncaught exception: " << e.what() << std::endl;
    code = 1;
  } catch (...) {
    auto self = runtime::get().self();
    std::cerr << "process '" << self.name << "' (pid " << self.pid
              << "): uncaught exception of unknown type" << std::endl;
    code = 1;
  }
  runtime::get().shutdown_children();
  runtime::get().stop_zygote();
  flush_std_streams();
  // The last things before _exit: a supervisor can go on once this child has finished, before
  // the kernel has torn its process down (the end of file on its stderr pipe wakes it).
  if (auto* word = runtime::get().finish_word())
    word->store(1, std::memory_order_release);
  ::close(STDERR_FILENO);
  ::_exit(code);
}

void run_child_entry(const launch_request& req) {
  run_child_target([&] {
    auto invoke = find_entry(req.entry_key);
    if (invoke == nullptr)
      throw process_error(process_errc::not_crossable,
                          "no entry point is registered as '" + req.entry_key + "'");
    invoke(req.args);
  });
}

} // namespace proctor::detail
