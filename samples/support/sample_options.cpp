#include "support/sample_options.hpp"

#include <cstdlib>
#include <iostream>
#include <string_view>

#include <proctor/start_method.hpp>

namespace samples {

namespace {

[[noreturn]] void usage(const char* program, const char* about, int code) {
  auto& out = code == 0 ? std::cout : std::cerr;
  out << program << ": " << about << "\n"
      << "usage: " << program << " [--method=fork|spawn|forkserver] [--scale=X]\n"
      << "  --method  the start method of the children (default: forkserver)\n"
      << "  --scale   multiplies the work the children do (default: 1)\n";
  std::exit(code);
}

std::optional<double> parse_scale(std::string_view text) {
  char* end = nullptr;
  std::string copy{text};
  double value = std::strtod(copy.c_str(), &end);
  if (end == copy.c_str() || *end != '\0' || !(value > 0))
    return std::nullopt;
  return value;
}

} // namespace

sample_options apply_options(int argc, char** argv, const char* about) {
  const char* program = argc > 0 ? argv[0] : "sample";
  sample_options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h")
      usage(program, about, 0);
    if (arg.starts_with("--method=")) {
      opts.method = proctor::parse_start_method(arg.substr(9));
      if (!opts.method) {
        std::cerr << program << ": unknown start method '" << arg.substr(9) << "'\n";
        usage(program, about, 2);
      }
    } else if (arg.starts_with("--scale=")) {
      auto scale = parse_scale(arg.substr(8));
      if (!scale) {
        std::cerr << program << ": --scale wants a positive number, not '" << arg.substr(8)
                  << "'\n";
        usage(program, about, 2);
      }
      opts.scale = *scale;
    } else {
      std::cerr << program << ": unknown argument '" << arg << "'\n";
      usage(program, about, 2);
    }
  }
  if (opts.method)
    proctor::set_start_method(*opts.method);
  return opts;
}

std::size_t scaled(std::size_t n, double scale) noexcept {
  auto value = static_cast<double>(n) * scale;
  return value < 1 ? 1 : static_cast<std::size_t>(value);
}

} // namespace samples
