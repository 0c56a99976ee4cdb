#include "proctor/supervise.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "tree_config.hpp"
#include "tree_runner.hpp"

namespace proctor {

namespace {

using supervise::exit_usage;

/// What the command line asks for.
struct command {
  enum class verb { run, check, list, help } what = verb::run;
  std::string file;
  std::optional<std::chrono::milliseconds> run_for;
};

constexpr const char* usage =
  R"(usage: supervise [--for SECONDS] FILE    run the tree FILE describes
       supervise --check FILE            check FILE, start nothing
       supervise --list                  the actors FILE may name, with their arguments
       supervise --help                  this, and the format of FILE
)";

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
  double s = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
  if (ec != std::errc{} || end != text.data() + text.size() || !(s > 0) || s > 1e9)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(s * 1000 + 0.5)};
}

/// The command, or an error message.
std::variant<command, std::string> parse_command(int argc, char** argv) {
  command c;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--check") {
      c.what = command::verb::check;
    } else if (arg == "--list") {
      c.what = command::verb::list;
    } else if (arg == "--help" || arg == "-h") {
      c.what = command::verb::help;
    } else if (arg == "--for" || arg.starts_with("--for=")) {
      std::string_view value;
      if (arg == "--for") {
        if (i + 1 >= argc)
          return std::string{"--for needs a number of seconds"};
        value = argv[++i];
      } else {
        value = arg.substr(6);
      }
      c.run_for = parse_seconds(value);
      if (!c.run_for)
        return "--for needs a positive number of seconds, not '" + std::string{value} + "'";
    } else if (arg.starts_with("-") && arg != "-") {
      return "unknown option '" + std::string{arg} + "'";
    } else if (c.file.empty()) {
      c.file = arg;
    } else {
      return "one tree file at a time: '" + c.file + "' and '" + std::string{arg} + "'";
    }
  }
  if (c.file.empty() && (c.what == command::verb::run || c.what == command::verb::check))
    return std::string{"which tree file?"};
  if (c.run_for && c.what != command::verb::run)
    return std::string{"--for goes with running a tree, not with --check or --list"};
  return c;
}

void list(const actor_catalog& catalog) {
  for (const auto& e : catalog.entries()) {
    std::string sig = e.name + "(";
    for (std::size_t i = 0; i < e.parameters.size(); ++i)
      sig.append(i ? ", " : "").append(e.parameters[i]);
    sig += ")";
    std::printf("%-40s %s\n", sig.c_str(), e.description.c_str());
  }
}

void print_outline(const supervise::tree_outline& node, int depth) {
  std::string what =
    node.actor == "supervisor" ? node.detail + " supervisor" : node.actor + node.detail;
  std::printf("%*s%-*s %s\n", depth * 2, "", 18 - depth * 2, node.id.c_str(), what.c_str());
  for (const auto& child : node.children)
    print_outline(child, depth + 1);
}

std::size_t count_children(const supervise::tree_outline& node) {
  std::size_t n = node.children.size();
  for (const auto& child : node.children)
    n += count_children(child);
  return n;
}

} // namespace

int supervise_main(int argc, char** argv, const actor_catalog& catalog) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // a line at a time, also into a pipe
  auto parsed = parse_command(argc, argv);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    std::fprintf(stderr, "supervise: %s\n%s", err->c_str(), usage);
    return exit_usage;
  }
  auto& cmd = std::get<command>(parsed);
  switch (cmd.what) {
    case command::verb::help:
      std::printf("%s\n%s", usage, supervise::tree_file_format());
      return supervise::exit_ok;
    case command::verb::list:
      list(catalog);
      return supervise::exit_ok;
    case command::verb::check:
    case command::verb::run:
      break;
  }
  auto tree = supervise::load_tree(cmd.file, catalog);
  if (!tree) {
    std::fprintf(stderr, "supervise: error: %s\n", to_string(tree.error()).c_str());
    return exit_usage;
  }
  if (cmd.what == command::verb::check) {
    std::printf("%s: ok: '%s' with %zu children\n", cmd.file.c_str(), tree->name.c_str(),
                count_children(tree->outline));
    print_outline(tree->outline, 1);
    return supervise::exit_ok;
  }
  return supervise::run_tree(*tree, {cmd.file, cmd.run_for});
}

} // namespace proctor
