#include "proctor/supervisor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "proctor/scoped_actor.hpp"
#include "proctor/system_messages.hpp"
#include "spawn_internals.hpp"
#include "supervisor_actor.hpp"
#include "supervisor_messages.hpp"

namespace proctor {

namespace {

using detail::supervisor_actor;

/// The client's mailbox has room for the reply. Most replies are a few hundred bytes, and a small
/// mailbox is much quicker to make and drop (its shared memory is reserved up front): a call took
/// ~430 us with a megabyte, ~150-220 us with 64 KiB. A list (of children, reports, dead letters)
/// gets 64 KiB first too (about 500 children), or as much as the last list of its kind needed,
/// up to a megabyte (which_children of one child ~390 -> ~155 us, of 100 ~430 -> 140-200 us, of
/// 1,000 ~870 -> ~660 us, against a megabyte first).
constexpr std::size_t small_reply_box = 64 * 1024;
constexpr std::size_t list_reply_box = small_reply_box;
constexpr std::size_t remembered_list_reply_box = 1 << 20;
/// A longer list (a flat tree of ten thousand children, crash reports with long stderr lines) is
/// asked for again with a mailbox of the size the reply said it needs, up to this.
constexpr std::size_t largest_list_reply_box = std::size_t{512} << 20;

template <class R, class M>
expected<R, actor_error> call(const actor_ref& sup, const M& msg, sup_timeout timeout,
                              std::size_t mailbox_bytes = small_reply_box) {
  scoped_actor self{"supervisor-client", mailbox_bytes};
  return self.request<R>(sup, timeout, msg);
}

/// The size of a reply that did not fit, from the too_large error the replier sent instead
/// (actor_core::send() writes "... of N bytes ..."); 0 if it does not say.
std::size_t reply_size_in(const std::string& message) {
  auto end = message.find(" bytes");
  auto at = end == std::string::npos ? end : message.rfind(" of ", end);
  if (at == std::string::npos)
    return 0;
  return static_cast<std::size_t>(std::strtoull(message.c_str() + at + 4, nullptr, 10));
}

template <class R, class M>
expected<R, actor_error> call_list(const actor_ref& sup, const M& msg, sup_timeout timeout) {
  using clock = std::chrono::steady_clock;
  // Saturating: a timeout of hours or more must not wrap the deadline.
  auto until = timeout >= std::chrono::hours{24 * 365} ? clock::time_point::max()
                                                       : clock::now() + timeout;
  // What the last list of this kind needed, if more than list_reply_box: a program that watches
  // a large tree asks once, not twice, each time.
  static std::atomic<std::size_t> last_needed{0};
  auto box = std::max(list_reply_box, last_needed.load(std::memory_order_relaxed));
  for (int attempt = 0;; ++attempt) {
    auto left = until == clock::time_point::max()
                  ? timeout
                  : std::chrono::duration_cast<sup_timeout>(until - clock::now());
    expected<R, actor_error> r = actor_error{actor_errc::timeout, "no time left", {}};
    try {
      r = call<R>(sup, msg, std::max(left, sup_timeout{1}), box);
    } catch (const std::exception& e) { // no room in /dev/shm for the mailbox, say
      return actor_error{actor_errc::too_large,
                         "a mailbox of " + std::to_string(box) + " bytes for the list: " + e.what(),
                         {}};
    }
    // The request is a few bytes: too_large can only be the reply's. Asked again once it says
    // its size (and again if the list grew meanwhile), with room to spare, while time is left.
    if (r || r.error().code != actor_errc::too_large || attempt == 2
        || clock::now() >= until)
      return r;
    auto needed = reply_size_in(r.error().message);
    auto next = needed + needed / 4 + (std::size_t{64} << 10);
    if (needed == 0 || next > largest_list_reply_box)
      return r;
    last_needed.store(std::min(next, remembered_list_reply_box), std::memory_order_relaxed);
    box = std::max(next, box * 2);
  }
}

template <class M>
expected<void, actor_error> call_ok(const actor_ref& sup, const M& msg, sup_timeout timeout) {
  auto r = call<ok_msg>(sup, msg, timeout);
  if (!r)
    return r.error();
  return {};
}

} // namespace

std::string to_string(const crash_report& r) {
  std::string s = "crash: supervisor=" + r.supervisor + " child=" + r.child_id
                  + " pid=" + std::to_string(r.pid) + " reason=\"" + to_string(r.reason) + "\"";
  if (!r.in_flight.empty())
    s += " in_flight=" + r.in_flight;
  s += " restarts=" + std::to_string(r.restarts) + " action=\"" + r.action + "\"";
  if (!r.stderr_tail.empty()) {
    s += " stderr=[";
    for (std::size_t i = 0; i < r.stderr_tail.size(); ++i)
      s += (i ? " | " : "") + r.stderr_tail[i];
    s += "]";
  }
  return s;
}

actor_ref start_supervisor(const supervisor_spec& spec, spawn_options opts) {
  if (opts.name.empty())
    opts.name = "supervisor";
  if (opts.start_timeout == spawn_options{}.start_timeout) {
    // Its init starts every child, each within its own start timeout.
    auto total = std::chrono::milliseconds{10000};
    for (auto& c : spec.children)
      total += c.start_timeout;
    opts.start_timeout = total;
  }
  return spawn<supervisor_actor>(std::move(opts), spec);
}

child_start supervisor_child(const supervisor_spec& spec, std::string name) {
  auto start = child<supervisor_actor>(spec);
  start.actor = "supervisor" + (name.empty() ? std::string{} : " " + name);
  return start;
}

expected<actor_ref, actor_error> start_child(const actor_ref& sup, const child_spec& spec,
                                             sup_timeout timeout) {
  return call<actor_ref>(sup, detail::sup_start_child{spec}, timeout);
}

expected<void, actor_error> terminate_child(const actor_ref& sup, const std::string& id,
                                            sup_timeout timeout) {
  return call_ok(sup, detail::sup_terminate_child{id}, timeout);
}

expected<actor_ref, actor_error> restart_child(const actor_ref& sup, const std::string& id,
                                               sup_timeout timeout) {
  return call<actor_ref>(sup, detail::sup_restart_child{id}, timeout);
}

expected<void, actor_error> delete_child(const actor_ref& sup, const std::string& id,
                                         sup_timeout timeout) {
  return call_ok(sup, detail::sup_delete_child{id}, timeout);
}

expected<std::vector<child_info>, actor_error> which_children(const actor_ref& sup,
                                                              sup_timeout timeout) {
  return call_list<std::vector<child_info>>(sup, detail::sup_which_children{}, timeout);
}

expected<child_counts, actor_error> count_children(const actor_ref& sup, sup_timeout timeout) {
  return call<child_counts>(sup, detail::sup_count_children{}, timeout);
}

expected<std::vector<crash_report>, actor_error> crash_reports(const actor_ref& sup,
                                                               sup_timeout timeout) {
  return call_list<std::vector<crash_report>>(sup, detail::sup_crash_reports{}, timeout);
}

expected<std::vector<dead_letter>, actor_error> dead_letters(const actor_ref& sup,
                                                             sup_timeout timeout) {
  return call_list<std::vector<dead_letter>>(sup, detail::sup_dead_letters{}, timeout);
}

expected<void, actor_error> subscribe_crash_reports(const actor_ref& sup, const actor_ref& to,
                                                    sup_timeout timeout) {
  return call_ok(sup, detail::sup_subscribe{to}, timeout);
}

expected<void, actor_error> stop_supervisor(const actor_ref& sup, sup_timeout timeout) {
  scoped_actor self{"supervisor-client", small_reply_box};
  std::uint64_t id = 0;
  try { // a value, as every other failure here: this process cannot watch or reach it
    id = self.monitor(sup);
    self.send_exit(sup, {exit_kind::shutdown, 0, false, "stop_supervisor"});
  } catch (const std::runtime_error& e) {
    return actor_error{actor_errc::no_resources, e.what(), {}};
  }
  auto until = std::chrono::steady_clock::now() + timeout;
  bool down = false;
  while (!down) { // a DOWN of an earlier call that timed out may come first: skip it
    auto left = until - std::chrono::steady_clock::now();
    if (left <= decltype(left)::zero()
        || !self.receive(left, [&](const down_msg& d) { down = d.monitor_id == id; })) {
      self.demonitor(id);
      return actor_error{actor_errc::timeout, "the supervisor did not stop in time", {}};
    }
  }
  detail::release_ended_actors(); // the supervisor's mailbox, if this process started it
  return {};
}

} // namespace proctor
