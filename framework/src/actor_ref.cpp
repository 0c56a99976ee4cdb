#include "proctor/actor_ref.hpp"

#include <cstdio>

#include "mailbox.hpp"

namespace proctor {

std::uint64_t actor_ref::id() const noexcept { return data_ ? data_->id : 0; }

std::string actor_ref::cell_name() const { return data_ ? data_->cell_name : std::string{}; }

actor_ref actor_ref::from_wire(std::uint64_t id, const std::string& cell_name) {
  return detail::make_ref(id, cell_name);
}

std::string actor_ref::name() const {
  auto link = detail::link_of(*this);
  return link ? detail::field_string(link->cell().name) : std::string{};
}

std::string to_string(const actor_ref& r) {
  if (!r)
    return "<no actor>";
  char id[24];
  std::snprintf(id, sizeof id, "#%08llx", static_cast<unsigned long long>(r.id() >> 32));
  std::string s = "<actor ";
  std::string trouble;
  if (auto link = detail::link_of(r, &trouble)) {
    s.append(detail::field_string(link->cell().name));
    s.append(id);
    if (auto pid = link->cell().pid.load(std::memory_order_relaxed); pid > 0)
      s.append(" pid ").append(std::to_string(pid));
  } else {
    s.append(id).append(trouble.empty() ? " gone" : " unreachable from here");
  }
  s.push_back('>');
  return s;
}

std::ostream& operator<<(std::ostream& os, const actor_ref& r) { return os << to_string(r); }

} // namespace proctor

#include "proctor/mailbox_stats.hpp"

namespace proctor {

std::optional<mailbox_stats> stats(const actor_ref& ref) {
  auto link = detail::link_of(ref);
  if (!link)
    return std::nullopt;
  auto& cell = link->cell();
  return mailbox_stats{link->messages().size(), cell.dead_letters.load(), cell.malformed.load(),
                       cell.dropped.load()};
}

} // namespace proctor
