#include "config_reader.hpp"

#include <algorithm>
#include <optional>
#include <sstream>
#include <vector>

#include "config_units.hpp"

namespace proctor::supervise {

namespace {

/// The value as the file wrote it (for floats: 0.5, not 0.500000).
std::string toml_text(const toml::node& n) {
  std::ostringstream out;
  n.visit([&out](auto&& v) { out << v; });
  return out.str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words)
    out.append(out.empty() ? "" : ", ").append(w);
  return out;
}

} // namespace

std::string config_reader::describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "the string \"" + std::string{*n.value<std::string_view>()} + "\"";
    case toml::node_type::integer:
      return "the integer " + std::to_string(*n.value<std::int64_t>());
    case toml::node_type::floating_point:
      return "the float " + toml_text(n);
    case toml::node_type::boolean:
      return *n.value<bool>() ? "the boolean true" : "the boolean false";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

void config_reader::check_keys(const toml::table& t, const std::string& prefix,
                               std::initializer_list<std::string_view> known,
                               const char* what) const {
  for (auto&& [key, value] : t) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end())
      continue;
    std::string hint;
    for (auto k : known)
      if (edit_distance(k, key.str()) <= 2) {
        hint = " (did you mean '" + std::string{k} + "'?)";
        break;
      }
    fail_at(key.source(), prefix + std::string{key.str()},
            "unknown key" + hint + "; " + what + " takes " + join(known));
  }
}

std::string config_reader::non_empty_string(const toml::node& n, const std::string& key) const {
  auto s = n.value_exact<std::string>();
  if (!s || s->empty())
    fail(n, key, "expected a non-empty string, not " + describe(n));
  return *s;
}

std::int64_t config_reader::integer(const toml::node& n, const std::string& key, std::int64_t min,
                                    std::int64_t max) const {
  auto* v = n.as_integer();
  if (v == nullptr || v->get() < min || v->get() > max)
    fail(n, key,
         "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", not "
           + describe(n));
  return v->get();
}

bool config_reader::boolean(const toml::node& n, const std::string& key) const {
  auto* v = n.as_boolean();
  if (v == nullptr)
    fail(n, key, "expected true or false, not " + describe(n));
  return v->get();
}

std::chrono::milliseconds config_reader::duration(const toml::node& n,
                                                  const std::string& key) const {
  std::optional<std::chrono::milliseconds> d;
  if (auto* s = n.as_string())
    d = parse_duration(s->get());
  if (!d)
    fail(
      n, key,
      "expected a duration with its unit, such as \"500ms\", \"2s\" or \"1m\", not " + describe(n));
  return *d;
}

std::chrono::milliseconds config_reader::positive_duration(const toml::node& n,
                                                           const std::string& key) const {
  auto d = duration(n, key);
  if (d.count() <= 0)
    fail(n, key, "must be longer than 0 ms");
  return d;
}

std::uint64_t config_reader::size(const toml::node& n, const std::string& key) const {
  std::optional<std::uint64_t> bytes;
  if (auto* i = n.as_integer(); i != nullptr && i->get() >= 0)
    bytes = static_cast<std::uint64_t>(i->get());
  else if (auto* s = n.as_string())
    bytes = parse_size(s->get());
  if (!bytes)
    fail(n, key,
         "expected a size: a number of bytes or a string such as \"64KiB\", \"256MiB\" or "
         "\"1GiB\", not "
           + describe(n));
  return *bytes;
}

shutdown_spec config_reader::shutdown(const toml::node& n, const std::string& key) const {
  if (auto s = n.value_exact<std::string_view>()) {
    if (*s == "brutal_kill")
      return shutdown_spec::brutal_kill();
    if (*s == "infinity")
      return shutdown_spec::infinity();
    if (auto d = parse_duration(*s))
      return shutdown_spec::after(*d);
  }
  fail(n, key,
       "expected \"brutal_kill\", \"infinity\" or a duration such as \"5s\", not " + describe(n));
}

catalog_value config_reader::argument(const toml::node& n, const std::string& key) const {
  if (auto i = n.value_exact<std::int64_t>())
    return *i;
  if (auto d = n.value_exact<double>())
    return *d;
  if (auto b = n.value_exact<bool>())
    return *b;
  if (auto s = n.value_exact<std::string>())
    return *s;
  fail(n, key, "an argument is an integer, a float, a boolean or a string, not " + describe(n));
}

const toml::table& config_reader::table(const toml::node& n, const std::string& key,
                                        const std::string& example) const {
  auto* t = n.as_table();
  if (t == nullptr)
    fail(n, key, "expected a table such as " + example + ", not " + describe(n));
  return *t;
}

void config_reader::fail_at(const toml::source_region& at, const std::string& key,
                            std::string message) const {
  throw config_failure{{file_, at.begin.line, at.begin.column, key, std::move(message)}};
}

} // namespace proctor::supervise
