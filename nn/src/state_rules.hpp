// Internal: the rules a named-state file obeys (state_file.cpp): nn::save
// applies them before writing (std::invalid_argument) and the reader while
// reading (std::runtime_error), so nothing is saved that cannot be loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace nn::detail {

// More tensors than this is a corrupt count, not a model.
inline constexpr std::uint32_t max_state_tensors = std::uint32_t{1} << 20;
inline constexpr std::size_t max_state_name = 4096;

// A hierarchical name "a.b.W": 1 to 4096 bytes, no control characters, no
// empty component. Returns what is wrong, or "".
inline std::string state_name_problem(const std::string& name) {
  if (name.empty() || name.size() > max_state_name)
    return fmt::format("a tensor name of {} bytes (must be 1 to {})", name.size(), max_state_name);
  for (std::size_t i = 0; i < name.size(); ++i)
    if (const auto c = static_cast<unsigned char>(name[i]); c < 0x20 || c == 0x7F)
      return fmt::format("a tensor name has the control character {:#04x} at byte {}", c, i);
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos)
    return fmt::format("the tensor name '{}' has an empty component", name);
  return "";
}

}  // namespace nn::detail
