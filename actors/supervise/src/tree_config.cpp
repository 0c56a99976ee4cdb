#include "tree_config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "config_reader.hpp"

namespace proctor::supervise {

namespace {

using namespace std::string_view_literals;

// The keys each table may hold: any other is an error (a misspelt key must never be ignored).
constexpr auto root_keys = {"name"sv,    "strategy"sv,
                            "intensity"sv, "period"sv,
                            "backoff"sv,   "max_crashes_per_message"sv,
                            "dead_letters_kept"sv, "child"sv};
constexpr auto supervisor_keys = {"strategy"sv, "intensity"sv,
                                  "period"sv,   "backoff"sv,
                                  "max_crashes_per_message"sv, "dead_letters_kept"sv,
                                  "child"sv};
constexpr auto backoff_keys = {"initial"sv, "max"sv, "stable_after"sv};
constexpr auto child_keys = {"id"sv, "actor"sv, "args"sv, "restart"sv, "shutdown"sv, "type"sv,
                             "watchdog"sv, "limits"sv, "mailbox"sv, "start_timeout"sv,
                             "standby"sv, "supervisor"sv};
constexpr auto limits_keys = {"memory"sv, "cpu_seconds"sv, "open_files"sv};

std::string render(const catalog_value& v) {
  struct visitor {
    std::string operator()(std::int64_t n) const { return std::to_string(n); }
    std::string operator()(double d) const {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", d);
      return buf;
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
  };
  return std::visit(visitor{}, v);
}

const char* strategy_name(strategy s) {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
    case strategy::simple_one_for_one:
      return "simple_one_for_one";
  }
  return "?";
}

/// Reads one file into a tree_config; every check of a key happens here, in one place (OTP's
/// check_childspec).
class tree_reader {
 public:
  tree_reader(std::string file, const actor_catalog& catalog)
    : in_(std::move(file)), catalog_(catalog) {}

  tree_config read(const toml::table& root) {
    in_.check_keys(root, "", root_keys, "the root of a tree");
    tree_config out;
    out.name = std::filesystem::path{in_.file()}.stem().string();
    if (auto* n = root.get("name"))
      out.name = in_.non_empty_string(*n, "name");
    out.outline.id = out.name;
    out.spec = read_supervisor(root, "", out.outline);
    return out;
  }

 private:
  // -- a supervisor and its children ------------------------------------------------------------

  supervisor_spec read_supervisor(const toml::table& t, const std::string& path,
                                  tree_outline& outline) {
    supervisor_spec spec;
    spec.flags = read_flags(t, path);
    outline.actor = "supervisor";
    outline.detail = strategy_name(spec.flags.how);
    if (auto* n = t.get("child")) {
      auto* children = n->as_array();
      if (children == nullptr || !(children->empty() || children->is_array_of_tables()))
        in_.fail(*n, path + "child",
                 "expected an array of tables: write each child under a [[" + path
                   + "child]] header, not " + config_reader::describe(*n));
      std::map<std::string, std::uint32_t> lines_of_ids;
      for (std::size_t i = 0; i < children->size(); ++i) {
        auto key = path + "child[" + std::to_string(i) + "]";
        auto& table = *children->get(i)->as_table();
        outline.children.emplace_back();
        spec.children.push_back(read_child(table, key, outline.children.back()));
        auto& id = spec.children.back().id;
        auto line = table.get("id")->source().begin.line;
        if (auto [it, fresh] = lines_of_ids.emplace(id, line); !fresh)
          in_.fail(*table.get("id"), key + ".id",
                   "the id \"" + id + "\" is already used by a sibling on line "
                     + std::to_string(it->second));
      }
    }
    for (std::size_t i = 0; i < spec.children.size(); ++i)
      outline.stop_time += stop_time(spec.children[i], outline.children[i]);
    if (spec.flags.how == strategy::simple_one_for_one && spec.children.size() != 1)
      in_.fail(
        t, path + "child",
        "a simple_one_for_one supervisor takes exactly one [[child]], its template; this one has "
          + std::to_string(spec.children.size()));
    return spec;
  }

  supervisor_flags read_flags(const toml::table& t, const std::string& path) {
    supervisor_flags f;
    f.log_crash_reports = false; // supervise prints every report itself, on stdout
    if (auto* n = t.get("strategy"))
      f.how = in_.choice<strategy>(*n, path + "strategy",
                                   {{"one_for_one", strategy::one_for_one},
                                    {"one_for_all", strategy::one_for_all},
                                    {"rest_for_one", strategy::rest_for_one},
                                    {"simple_one_for_one", strategy::simple_one_for_one}});
    if (auto* n = t.get("intensity"))
      f.intensity = static_cast<std::uint32_t>(in_.integer(*n, path + "intensity", 0, UINT32_MAX));
    if (auto* n = t.get("period"))
      f.period = in_.positive_duration(*n, path + "period");
    if (auto* n = t.get("max_crashes_per_message"))
      f.max_crashes_per_message = static_cast<std::uint32_t>(
        in_.integer(*n, path + "max_crashes_per_message", 0, UINT32_MAX));
    if (auto* n = t.get("dead_letters_kept"))
      f.dead_letters_kept = static_cast<std::uint32_t>(
        in_.integer(*n, path + "dead_letters_kept", 1, UINT32_MAX));
    if (auto* n = t.get("backoff")) {
      auto key = path + "backoff";
      auto& b = in_.table(*n, key, "{ initial = \"10ms\", max = \"1s\", stable_after = \"5s\" }");
      in_.check_keys(b, key + ".", backoff_keys, "backoff");
      if (auto* v = b.get("initial"))
        f.backoff_initial = in_.duration(*v, key + ".initial");
      if (auto* v = b.get("max"))
        f.backoff_max = in_.duration(*v, key + ".max");
      if (auto* v = b.get("stable_after"))
        f.stable_after = in_.duration(*v, key + ".stable_after");
      if (f.backoff_max < f.backoff_initial)
        in_.fail(b.get("max") ? *b.get("max") : b, key + ".max",
                 "must not be shorter than backoff.initial ("
                   + std::to_string(f.backoff_initial.count()) + " ms)");
    }
    return f;
  }

  child_spec read_child(const toml::table& t, const std::string& path, tree_outline& outline) {
    in_.check_keys(t, path + ".", child_keys, "a child");
    child_spec s;
    auto* id = t.get("id");
    if (id == nullptr)
      in_.fail(t, path + ".id", "missing: every child needs an id");
    s.id = in_.non_empty_string(*id, path + ".id");
    outline.id = s.id;
    auto* actor = t.get("actor");
    auto* nested = t.get("supervisor");
    if ((actor == nullptr) == (nested == nullptr))
      in_.fail(actor ? *actor : t, path + (actor ? ".actor" : ""),
               actor ? "a child has either an actor or a supervisor table, not both"
                     : "missing: a child needs an actor (a catalog name) or a supervisor table");
    if (actor != nullptr) {
      s.start = start_of(*actor, t.get("args"), path, outline);
    } else {
      if (auto* args = t.get("args"))
        in_.fail(*args, path + ".args", "a nested supervisor takes no args");
      auto key = path + ".supervisor";
      auto& sub = in_.table(*nested, key, "a [" + key + "] table with the nested tree");
      in_.check_keys(sub, key + ".", supervisor_keys, "a nested supervisor");
      s.start = supervisor_child(read_supervisor(sub, key + ".", outline), s.id);
      s.type = child_type::supervisor;
      s.shutdown = shutdown_spec::infinity(); // OTP's default for a supervisor child
    }
    read_child_options(t, path, s, nested != nullptr);
    return s;
  }

  child_start start_of(const toml::node& actor, const toml::node* args, const std::string& path,
                       tree_outline& outline) {
    auto name = in_.non_empty_string(actor, path + ".actor");
    std::vector<catalog_value> values;
    if (args != nullptr) {
      auto* list = args->as_array();
      if (list == nullptr)
        in_.fail(*args, path + ".args",
                 "expected an array such as [\"log\", 500], not " + config_reader::describe(*args));
      for (std::size_t i = 0; i < list->size(); ++i)
        values.push_back(in_.argument(*list->get(i), path + ".args[" + std::to_string(i) + "]"));
    }
    auto start = catalog_.child(name, values);
    if (!start) {
      const auto& err = start.error();
      switch (err.code) {
        case catalog_errc::unknown_actor:
          in_.fail(actor, path + ".actor", err.message);
        case catalog_errc::argument_count:
          in_.fail(args ? *args : actor, path + (args ? ".args" : ".actor"), err.message);
        case catalog_errc::argument_type:
        case catalog_errc::argument_range:
          in_.fail(*args->as_array()->get(err.argument),
                   path + ".args[" + std::to_string(err.argument) + "]", err.message);
      }
    }
    outline.actor = name;
    for (auto& v : values)
      outline.detail.append(outline.detail.empty() ? "" : ", ").append(render(v));
    outline.detail = "(" + outline.detail + ")";
    return *std::move(start);
  }

  void read_child_options(const toml::table& t, const std::string& path, child_spec& s,
                          bool nested) {
    if (auto* n = t.get("restart"))
      s.restart = in_.choice<restart_type>(*n, path + ".restart",
                                           {{"permanent", restart_type::permanent},
                                            {"transient", restart_type::transient},
                                            {"temporary", restart_type::temporary}});
    if (auto* n = t.get("type")) {
      s.type = in_.choice<child_type>(
        *n, path + ".type",
        {{"worker", child_type::worker}, {"supervisor", child_type::supervisor}});
      if (nested && s.type != child_type::supervisor)
        in_.fail(*n, path + ".type",
                 "a child with a supervisor table is a supervisor, not a worker");
    }
    if (auto* n = t.get("shutdown"))
      s.shutdown = in_.shutdown(*n, path + ".shutdown");
    if (auto* n = t.get("watchdog"))
      s.watchdog = in_.duration(*n, path + ".watchdog");
    if (auto* n = t.get("start_timeout"))
      s.start_timeout = in_.positive_duration(*n, path + ".start_timeout");
    if (auto* n = t.get("standby"))
      s.standby = in_.boolean(*n, path + ".standby");
    if (auto* n = t.get("mailbox")) {
      auto bytes = in_.size(*n, path + ".mailbox");
      if (bytes < 4096)
        in_.fail(*n, path + ".mailbox", "a mailbox needs at least 4KiB");
      s.mailbox_bytes = static_cast<std::size_t>(bytes);
    }
    if (auto* n = t.get("limits")) {
      auto key = path + ".limits";
      auto& l = in_.table(*n, key, "{ memory = \"256MiB\", cpu_seconds = 10, open_files = 64 }");
      in_.check_keys(l, key + ".", limits_keys, "limits");
      if (auto* v = l.get("memory"))
        s.limits.memory_bytes = in_.size(*v, key + ".memory");
      if (auto* v = l.get("cpu_seconds"))
        s.limits.cpu_seconds =
          static_cast<std::uint64_t>(in_.integer(*v, key + ".cpu_seconds", 0, INT64_MAX));
      if (auto* v = l.get("open_files"))
        s.limits.open_files =
          static_cast<std::uint64_t>(in_.integer(*v, key + ".open_files", 0, INT64_MAX));
    }
  }

  /// The longest a child's stop may take: its shutdown time, its subtree's for a supervisor
  /// with shutdown infinity, an hour for a worker with infinity (it may never end).
  static std::chrono::milliseconds stop_time(const child_spec& s, const tree_outline& outline) {
    using namespace std::chrono_literals;
    switch (s.shutdown.how) {
      case shutdown_spec::kind::brutal_kill:
        return 1s;
      case shutdown_spec::kind::timeout:
        return s.shutdown.time + 1s;
      case shutdown_spec::kind::infinity:
        return outline.actor == "supervisor" ? outline.stop_time + 1s : 1h;
    }
    return 1h;
  }

  config_reader in_;
  const actor_catalog& catalog_;
};

} // namespace

std::string to_string(const config_error& e) {
  // Appended piece by piece: GCC 12 warns wrongly (-Wrestrict, its bug 105329) on `":" + ...`.
  std::string s = e.file;
  if (e.line > 0)
    s.append(":").append(std::to_string(e.line)).append(":").append(std::to_string(e.column));
  s.append(": ");
  if (!e.key.empty())
    s.append(e.key).append(": ");
  return s.append(e.message);
}

expected<tree_config, config_error> load_tree(const std::string& path,
                                              const actor_catalog& catalog) {
  if (std::ifstream probe{path}; !probe)
    return config_error{
      path, 0, 0, {}, "cannot read the file: " + std::string{std::strerror(errno)}};
  try {
    auto root = toml::parse_file(path);
    return tree_reader{path, catalog}.read(root);
  } catch (const toml::parse_error& e) {
    return config_error{path,
                        e.source().begin.line,
                        e.source().begin.column,
                        {},
                        "not valid TOML: " + std::string{e.description()}};
  } catch (const config_failure& f) {
    return f.error;
  }
}

const char* tree_file_format() noexcept {
  return R"(A tree file is TOML. Its top level is the root supervisor:
  name = "demo"                     the root's name (default: the file name)
  strategy = "one_for_one"          one_for_one, one_for_all, rest_for_one, simple_one_for_one
  intensity = 5                     more restarts than this within period stop the supervisor
  period = "10s"
  backoff = { initial = "10ms", max = "1s", stable_after = "5s" }   delay between restarts
  max_crashes_per_message = 3       then the message goes to the dead letters (0: never)
  dead_letters_kept = 1000          the most recent dead letters kept; older ones are forgotten

  [[child]]                         one table per child, started in this order
  id = "clock"                      unique among its siblings
  actor = "ticker"                  a name from the catalog (supervise --list)
  args = ["log", 500]               the actor's arguments: integers, floats, booleans, strings
  restart = "permanent"             permanent, transient, temporary
  shutdown = "5s"                   brutal_kill, infinity, or a duration (SIGTERM, then SIGKILL)
  type = "worker"                   worker, supervisor
  watchdog = "300ms"                restart it when one handler runs longer (default: none)
  limits = { memory = "256MiB", cpu_seconds = 10, open_files = 64 }
  mailbox = "256KiB"                its mailbox's size
  start_timeout = "10s"
  standby = true                    keep a warm standby that takes over at once from a process
                                    killed between messages (one idle process more; default: no)

  [[child]]                         a nested supervisor: a child with a supervisor table
  id = "pool"
  [child.supervisor]                the same keys as the top level (without name)
  strategy = "one_for_all"
  [[child.supervisor.child]]
  id = "worker-1"
  actor = "prime_worker"
  args = ["log", 20000]

Durations take a unit (ms, s, m, h); sizes are bytes or take a unit (B, KiB, MiB, GiB).
)";
}

} // namespace proctor::supervise
