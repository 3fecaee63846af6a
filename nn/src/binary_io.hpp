// Internal: what the file formats (serialize.cpp, checkpoint.cpp, idx.cpp)
// share: little-endian encoding, a bounds-checked decoder that names the file
// and the field in its errors, the FNV-1a checksum, reading only regular
// files and never more than they hold, and the atomic write (temporary file,
// fsync, rename, fsync of the folder).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

namespace nn::detail {

inline std::uint64_t fnv1a(const std::uint8_t* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// GCC 12 reports a false "writing 1 byte into a region of size 0" for these
// appends once they are inlined (GCC bug 106199).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
class ByteWriter {
 public:
  template <class U>
  void put(U value) {
    static_assert(std::is_trivially_copyable_v<U>);
    std::uint8_t raw[sizeof(U)];
    std::memcpy(raw, &value, sizeof(U));
    if constexpr (std::endian::native == std::endian::big) std::reverse(raw, raw + sizeof(U));
    append(raw, sizeof(U));
  }
  void put_string(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    append(s.data(), s.size());
  }
  void append(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
  }
  std::vector<std::uint8_t> bytes;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Reads bytes [0, end) of `bytes`; every error is a std::runtime_error
// "<who>: '<path>': <why>".
class ByteReader {
 public:
  ByteReader(const std::vector<std::uint8_t>& bytes, std::size_t end, const std::string& path,
             const char* who)
      : bytes_(bytes), end_(end), path_(path), who_(who) {}
  template <class U>
  U get(const char* what) {
    need(sizeof(U), what);
    std::uint8_t raw[sizeof(U)];
    std::memcpy(raw, bytes_.data() + pos_, sizeof(U));
    if constexpr (std::endian::native == std::endian::big) std::reverse(raw, raw + sizeof(U));
    pos_ += sizeof(U);
    U value;
    std::memcpy(&value, raw, sizeof(U));
    return value;
  }
  std::string get_string(const char* what) {
    const auto n = get<std::uint32_t>(what);
    need(n, what);
    std::string s(bytes_.begin() + static_cast<std::ptrdiff_t>(pos_),
                  bytes_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return s;
  }
  // A count of `element`-byte items that must fit in what is left.
  std::uint64_t get_count(std::size_t element, const char* what) {
    const auto n = get<std::uint64_t>(what);
    if (n > (end_ - pos_) / element)
      fail(fmt::format("truncated or corrupt: {} says {} entries, more than the file holds", what, n));
    return n;
  }
  void skip(std::size_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return end_ - pos_; }
  bool at_end() const { return pos_ == end_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(fmt::format("{}: '{}': {}", who_, path_, why));
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (end_ - pos_ < n)
      fail(fmt::format("truncated: the file ends while reading {} at byte {}", what, pos_));
  }
  const std::vector<std::uint8_t>& bytes_;
  std::size_t end_;
  const std::string& path_;
  const char* who_;
  std::size_t pos_ = 0;
};

// A regular file open for reading. Anything else (a directory, a FIFO, a
// device, a socket) is refused before a byte is read: none has a size that
// bounds the read, /dev/zero never ends and a FIFO blocks. Errors are
// std::runtime_error "<who>: cannot open '<path>': <reason>" and
// "<who>: '<path>' is a <kind>, not a regular file".
class InputFile {
 public:
  InputFile(const std::string& path, const char* who);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The size when opened: no reader reads past it.
  std::uint64_t size() const { return size_; }
  int descriptor() const { return fd_; }
  // Reads up to `n` bytes; fewer only where the file (as sized when opened)
  // ends. Throws on a read error.
  std::size_t read(std::uint8_t* into, std::size_t n);
  // Appends up to `n` more bytes to `bytes`, fewer where the file ends.
  void append(std::vector<std::uint8_t>& bytes, std::size_t n);

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0, position_ = 0;
  std::string path_;
  const char* who_;
};

// Writes `bytes` to `path` so that after a crash at any point the target is
// the old file or the complete new one; errors name `who` and the file.
// A symbolic link is written through (its target is replaced, the link
// stays); an existing file keeps its permission bits (a new one gets 0644
// less the umask); a path that exists but is not a regular file is refused.
// Temporaries `<target>.tmp-<pid>-<n>` left by processes that no longer
// exist (killed mid-save) are removed.
void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes, const char* who);

}  // namespace nn::detail
