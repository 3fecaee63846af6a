// What every program of the tour shares: its command line and where its files go.
//
//   --quick      smaller settings (scripts/demo --quick)
//   --smoke      tiny settings, for the CTest smoke tests (a few seconds)
//   --out DIR    folder for the pictures and files (created; default: the current directory)
//
// Each program prints the path of every file it writes.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace tour {

class Args {
 public:
  // `valued` names the options of this program that take a value (besides
  // --out), `switches` its on/off options (besides --quick and --smoke).
  Args(int argc, char** argv, std::initializer_list<std::string_view> valued = {},
       std::initializer_list<std::string_view> switches = {}) {
    std::vector<std::string_view> takes_value(valued);
    takes_value.push_back("--out");
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      bool is_valued = false;
      for (std::string_view v : takes_value) is_valued = is_valued || v == arg;
      if (is_valued) {
        if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", arg));
        values_[std::string(arg)] = argv[++i];
      } else if (arg == "--quick" || arg == "--smoke" ||
                 std::find(switches.begin(), switches.end(), arg) != switches.end()) {
        flags_.emplace(arg);
      } else {
        throw std::invalid_argument(
            fmt::format("unknown argument '{}' (known: --quick --smoke --out DIR{}{}{})", arg,
                        known_suffix(valued), switches.size() ? " " : "", fmt::join(switches, " ")));
      }
    }
  }

  bool quick() const { return has("--quick"); }
  bool smoke() const { return has("--smoke"); }
  bool has(std::string_view name) const {
    return values_.count(std::string(name)) != 0 || flags_.count(std::string(name)) != 0;
  }
  std::string get(std::string_view name, std::string fallback) const {
    auto it = values_.find(std::string(name));
    return it == values_.end() ? fallback : it->second;
  }
  long get_int(std::string_view name, long fallback) const {
    return has(name) ? std::stol(get(name, "")) : fallback;
  }
  double get_double(std::string_view name, double fallback) const {
    return has(name) ? std::stod(get(name, "")) : fallback;
  }

  // The output folder (created if needed).
  std::filesystem::path out_dir() const {
    const std::filesystem::path dir = get("--out", ".");
    std::filesystem::create_directories(dir);
    return dir;
  }

 private:
  static std::string known_suffix(std::initializer_list<std::string_view> valued) {
    std::string s;
    for (std::string_view v : valued) s += fmt::format(" {} VALUE", v);
    return s;
  }
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

// Announces a file the program wrote.
inline void wrote(const std::filesystem::path& path, std::string_view what) {
  fmt::print("  wrote {}  ({})\n", path.string(), what);
}

// Whether a program is on the PATH (for Graphviz's `dot`).
inline bool have_program(std::string_view name) {
  return std::system(fmt::format("command -v {} >/dev/null 2>&1", name).c_str()) == 0;
}

}  // namespace tour
