// Test helper: a test program's scratch folder, <base>/<prefix>-<pid>, made
// on construction and removed with everything in it when the program ends
// (by the process that made it: forked children that exit leave it alone),
// so that no run, passed or failed, leaves files behind.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

class ScratchDir {
 public:
  explicit ScratchDir(std::string_view prefix,
                      const std::filesystem::path& base = std::filesystem::temp_directory_path())
      : path_(base / (std::string(prefix) + "-" + std::to_string(owner_))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    if (::getpid() != owner_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  pid_t owner_ = ::getpid();  // declared before path_, which is built from it
  std::filesystem::path path_;
};
