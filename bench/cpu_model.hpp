// The CPU's model name, from /proc/cpuinfo, for the header line of every
// bench program ("unknown" where there is no such file).
#pragma once

#include <fstream>
#include <string>

namespace bench {

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

}  // namespace bench
