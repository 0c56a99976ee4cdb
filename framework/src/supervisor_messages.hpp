#pragma once

#include <string>

#include <caf/meta/type_name.hpp>

#include "proctor/actor_ref.hpp"
#include "proctor/child_spec.hpp"
#include "proctor/message.hpp"

namespace proctor::detail {

/// The requests behind the public supervisor API (supervisor.hpp).
struct sup_start_child {
  child_spec spec;
};
struct sup_terminate_child {
  std::string id;
};
struct sup_restart_child {
  std::string id;
};
struct sup_delete_child {
  std::string id;
};
struct sup_which_children {};
struct sup_count_children {};
struct sup_crash_reports {};
struct sup_dead_letters {};
struct sup_subscribe {
  actor_ref to;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_start_child& x) {
  return f(caf::meta::type_name("sup_start_child"), x.spec);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_terminate_child& x) {
  return f(caf::meta::type_name("sup_terminate_child"), x.id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_restart_child& x) {
  return f(caf::meta::type_name("sup_restart_child"), x.id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_delete_child& x) {
  return f(caf::meta::type_name("sup_delete_child"), x.id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_which_children&) {
  return f(caf::meta::type_name("sup_which_children"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_count_children&) {
  return f(caf::meta::type_name("sup_count_children"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_crash_reports&) {
  return f(caf::meta::type_name("sup_crash_reports"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_dead_letters&) {
  return f(caf::meta::type_name("sup_dead_letters"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sup_subscribe& x) {
  return f(caf::meta::type_name("sup_subscribe"), x.to);
}

} // namespace proctor::detail

PROCTOR_MESSAGE(proctor::detail::sup_start_child, "proctor.sup.start_child");
PROCTOR_MESSAGE(proctor::detail::sup_terminate_child, "proctor.sup.terminate_child");
PROCTOR_MESSAGE(proctor::detail::sup_restart_child, "proctor.sup.restart_child");
PROCTOR_MESSAGE(proctor::detail::sup_delete_child, "proctor.sup.delete_child");
PROCTOR_MESSAGE(proctor::detail::sup_which_children, "proctor.sup.which_children");
PROCTOR_MESSAGE(proctor::detail::sup_count_children, "proctor.sup.count_children");
PROCTOR_MESSAGE(proctor::detail::sup_crash_reports, "proctor.sup.crash_reports");
PROCTOR_MESSAGE(proctor::detail::sup_dead_letters, "proctor.sup.dead_letters");
PROCTOR_MESSAGE(proctor::detail::sup_subscribe, "proctor.sup.subscribe");
