#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace samples {

/// "True" or "False", as Python prints a bool: the ported samples print what the seeds print.
[[nodiscard]] inline const char* python_bool(bool b) noexcept { return b ? "True" : "False"; }

/// "[None, True, None, None]", as Python prints a list whose slots are None until set.
template <std::size_t N>
[[nodiscard]] std::string python_list(const std::array<std::optional<bool>, N>& slots) {
  std::string out = "[";
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0)
      out += ", ";
    out += slots[i] ? python_bool(*slots[i]) : "None";
  }
  return out + "]";
}

/// "[True, False, True, False]", as Python prints a list of bools.
template <std::size_t N>
[[nodiscard]] std::string python_list(const std::array<bool, N>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0)
      out += ", ";
    out += python_bool(values[i]);
  }
  return out + "]";
}

/// "[1, 4, 9]", as Python prints a list of integers.
template <std::integral T>
  requires(!std::same_as<T, bool>)
[[nodiscard]] std::string python_list(const std::vector<T>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out += ", ";
    out += std::to_string(values[i]);
  }
  return out + "]";
}

} // namespace samples
