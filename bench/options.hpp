// Command-line values shared by the bench programs: comma-separated lists and
// positive integers (thread counts, sizes, repetitions), checked strictly so a
// bad value stops the program with a message naming the option and the item
// (std::invalid_argument) instead of std::stoi's "stoi" or a wrapped negative.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace bench {

// The comma-separated items of text; empty items are skipped.
inline std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) items.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

// text as a positive decimal integer (digits only, fits in size_t, > 0), or nothing.
inline std::optional<std::size_t> parse_positive(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::size_t v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (error != std::errc() || end != text.data() + text.size() || v == 0) return std::nullopt;
  return v;
}

// Every item of a comma-separated list, each a positive integer; throws
// std::invalid_argument naming option and the bad item, or the empty list.
inline std::vector<std::size_t> positive_integers(std::string_view list, std::string_view option) {
  std::vector<std::size_t> values;
  for (const std::string& item : split_list(list)) {
    const std::optional<std::size_t> v = parse_positive(item);
    if (!v) throw std::invalid_argument(fmt::format("{} takes positive integers, not '{}'", option, item));
    values.push_back(*v);
  }
  if (values.empty()) throw std::invalid_argument(fmt::format("{} needs at least one value", option));
  return values;
}

// value as exactly one positive integer; throws std::invalid_argument otherwise.
inline std::size_t positive_integer(std::string_view value, std::string_view option) {
  const std::optional<std::size_t> v = parse_positive(value);
  if (!v) throw std::invalid_argument(fmt::format("{} takes one positive integer, not '{}'", option, value));
  return *v;
}

}  // namespace bench
