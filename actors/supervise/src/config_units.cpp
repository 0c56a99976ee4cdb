#include "config_units.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace proctor::supervise {

namespace {

/// Splits "1.5s" into 1.5 and "s"; nullopt unless a non-negative number comes first.
std::optional<std::pair<double, std::string_view>> number_and_unit(std::string_view text) {
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data() || !(value >= 0) || !std::isfinite(value))
    return std::nullopt;
  std::string_view unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return std::pair{value, unit};
}

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto parsed = number_and_unit(text);
  if (!parsed)
    return std::nullopt;
  auto [value, unit] = *parsed;
  double ms_per_unit = unit == "ms"  ? 1
                       : unit == "s" ? 1e3
                       : unit == "m" ? 60e3
                       : unit == "h" ? 3600e3
                                     : 0;
  if (ms_per_unit == 0)
    return std::nullopt;
  double ms = std::round(value * ms_per_unit);
  if (ms > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2))
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(ms)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parsed = number_and_unit(text);
  if (!parsed)
    return std::nullopt;
  auto [value, unit] = *parsed;
  double bytes_per_unit = unit == "B"     ? 1.0
                          : unit == "KiB" ? 0x1p10
                          : unit == "MiB" ? 0x1p20
                          : unit == "GiB" ? 0x1p30
                          : unit == "TiB" ? 0x1p40
                                          : 0;
  if (bytes_per_unit == 0 || value != std::floor(value))
    return std::nullopt;
  double bytes = value * bytes_per_unit;
  if (bytes >= 0x1p63)
    return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

} // namespace proctor::supervise
