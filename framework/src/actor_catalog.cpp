#include "proctor/actor_catalog.hpp"

#include <cstdio>
#include <stdexcept>

namespace proctor {

namespace {

/// `the string "fast"`, `the integer 5`, `the float 1.5`, `the bool true`.
std::string describe(const catalog_value& v) {
  struct visitor {
    std::string operator()(std::int64_t n) const { return "the integer " + std::to_string(n); }
    std::string operator()(double d) const {
      char buf[40];
      std::snprintf(buf, sizeof buf, "the float %g", d);
      return buf;
    }
    std::string operator()(bool b) const { return b ? "the bool true" : "the bool false"; }
    std::string operator()(const std::string& s) const { return "the string \"" + s + "\""; }
  };
  return std::visit(visitor{}, v);
}

/// "an integer", "a float", ...: what a parameter of `type` accepts.
std::string accepted(std::string_view type) {
  if (type == "bool")
    return "a bool";
  if (type == "string")
    return "a string";
  if (type == "float" || type == "double")
    return "a number";
  return "an integer";
}

/// "(string, int64)".
std::string signature(const actor_catalog::entry& e) {
  std::string s = "(";
  for (std::size_t i = 0; i < e.parameters.size(); ++i)
    s.append(i ? ", " : "").append(e.parameters[i]);
  return s + ")";
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

} // namespace

namespace detail {

// The messages are built with append: GCC 12 warns wrongly (-Wrestrict, its bug 105329) about
// `"(" + std::string{...}`.
catalog_error catalog_type_mismatch(const catalog_value& v, std::string_view type,
                                    std::size_t index) {
  std::string message{"("};
  message.append(type)
    .append("): expected ")
    .append(accepted(type))
    .append(", not ")
    .append(describe(v));
  return {catalog_errc::argument_type, index, std::move(message)};
}

catalog_error catalog_out_of_range(std::int64_t n, std::string_view type, std::size_t index) {
  std::string message{"("};
  message.append(type).append("): ").append(std::to_string(n)).append(" is out of range");
  return {catalog_errc::argument_range, index, std::move(message)};
}

} // namespace detail

void actor_catalog::insert(entry about, factory make) {
  if (about.name.empty())
    throw std::invalid_argument("proctor: an actor in a catalog needs a name");
  if (items_.contains(about.name))
    throw std::invalid_argument("proctor: the catalog already has an actor named '" + about.name
                                + "'");
  auto name = about.name;
  items_.emplace(std::move(name), item{std::move(about), std::move(make)});
}

expected<child_start, catalog_error> actor_catalog::child(
  std::string_view name, const std::vector<catalog_value>& args) const {
  auto it = items_.find(name);
  if (it == items_.end()) {
    std::string known;
    for (const auto& [n, _] : items_)
      known.append(known.empty() ? "" : ", ").append(n);
    return catalog_error{catalog_errc::unknown_actor, 0,
                         "no actor named '" + std::string{name}
                           + "' in the catalog (known: " + (known.empty() ? "none" : known) + ")"};
  }
  const auto& [about, make] = it->second;
  if (args.size() != about.parameters.size())
    return catalog_error{catalog_errc::argument_count, 0,
                         "actor '" + about.name + "' takes "
                           + plural(about.parameters.size(), "argument") + " " + signature(about)
                           + ", not " + std::to_string(args.size())};
  auto start = make(args);
  if (!start) {
    auto err = start.error();
    err.message = "actor '" + about.name + "', argument " + std::to_string(err.argument + 1) + " "
                  + err.message;
    return err;
  }
  return start;
}

const actor_catalog::entry* actor_catalog::find(std::string_view name) const {
  auto it = items_.find(name);
  return it == items_.end() ? nullptr : &it->second.about;
}

std::vector<actor_catalog::entry> actor_catalog::entries() const {
  std::vector<entry> out;
  out.reserve(items_.size());
  for (const auto& [_, i] : items_)
    out.push_back(i.about);
  return out;
}

} // namespace proctor
