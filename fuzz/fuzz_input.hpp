// Shared by the harnesses: the fuzz input as a file path (the loaders take
// paths), without touching the disk: an anonymous memory file seen through
// /proc/self/fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("fuzz-input", 0)) {
    if (fd_ < 0) throw std::logic_error("memfd_create failed");
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the contents with `data` and returns a path that opens them.
  std::string hold(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) throw std::logic_error("ftruncate failed");
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) throw std::logic_error("pwrite failed");
      done += static_cast<std::size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// FNV-1a (64-bit), the checksum of the .adnn and .adck formats: the harnesses
// also try each input with a correct checksum, so the fuzzer reaches the
// field checks behind it instead of stopping at the checksum every time.
inline std::uint64_t fnv1a(const std::uint8_t* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
inline void fix_checksum(std::uint8_t* data, std::size_t size) {
  if (size < 8) return;
  std::uint64_t h = fnv1a(data, size - 8);
  for (std::size_t i = 0; i < 8; ++i, h >>= 8) data[size - 8 + i] = static_cast<std::uint8_t>(h & 0xFF);
}

}  // namespace fuzz
