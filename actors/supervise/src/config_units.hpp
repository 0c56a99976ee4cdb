#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace proctor::supervise {

/// "250ms", "2s", "1.5s", "3m", "1h" (a non-negative number and a unit, no space needed), or
/// nullopt. Rounded to whole milliseconds.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// "512B", "64KiB", "256MiB", "2GiB" (a whole number and a binary unit), or nullopt.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

} // namespace proctor::supervise
