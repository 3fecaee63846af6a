#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nn/idx.hpp>

#include "binary_io.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace nn {
namespace {

[[noreturn]] void fail(const char* who, const std::string& source, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}: {}", who, source, problem));
}

// `fd` itself when it is not 0, 1 or 2, else a close-on-exec duplicate above
// them (which `owned` then closes): the child's stdin and stdout are set
// with dup2, which must not overwrite one of its own sources.
int above_stdio(int fd, int& owned) {
  if (fd > 2) return fd;
  owned = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return owned;
}

// `gzip -dc` decompressing an open file (its stdin) into a pipe. The child
// is killed and reaped and the pipe closed on every path out, an exception
// included: the reader stops as soon as it has what the IDX header declares.
class Gunzip {
 public:
  Gunzip(int compressed, const char* who, const std::string& path) : who_(who), path_(path) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
      fail(who_, path_, fmt::format("cannot run gzip ({})", std::strerror(errno)));
    int input_copy = -1, output_copy = -1;
    const int input = above_stdio(compressed, input_copy), output = above_stdio(ends[1], output_copy);
    int err = input < 0 || output < 0 ? errno : 0;
    if (err == 0) {
      posix_spawn_file_actions_t actions;
      ::posix_spawn_file_actions_init(&actions);
      ::posix_spawn_file_actions_adddup2(&actions, input, 0);
      ::posix_spawn_file_actions_adddup2(&actions, output, 1);
      ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
      char gzip[] = "gzip", dc[] = "-dc";
      char* argv[] = {gzip, dc, nullptr};
      err = ::posix_spawnp(&pid_, "gzip", &actions, nullptr, argv, environ);
      ::posix_spawn_file_actions_destroy(&actions);
    }
    for (int fd : {input_copy, output_copy, ends[1]})
      if (fd >= 0) ::close(fd);
    out_ = ends[0];
    if (err != 0) {
      pid_ = -1;
      fail(who_, path_, "gzip-compressed, but `gzip -dc` could not be run (is gzip installed?)");
    }
  }
  ~Gunzip() {
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // Up to `n` bytes; fewer only where the decompressed data ends.
  std::size_t read(std::uint8_t* into, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::read(out_, into + done, n - done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(who_, path_, fmt::format("reading gzip's output failed ({})", std::strerror(errno)));
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  // Waits for gzip to exit, after its output was read to the end; throws if
  // it failed.
  void finish() {
    ::close(out_);
    out_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    fail(who_, path_,
         WIFEXITED(status) && WEXITSTATUS(status) == 127
             ? std::string("gzip-compressed, but `gzip -dc` could not be run (is gzip installed?)")
             : std::string("gzip-compressed, but `gzip -dc` failed: corrupt or truncated .gz data"));
  }

 private:
  const char* who_;
  const std::string& path_;
  pid_t pid_ = -1;
  int out_ = -1;
};

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}

bool known(std::uint8_t code) {
  switch (IdxType(code)) {
    case IdxType::u8:
    case IdxType::i8:
    case IdxType::i16:
    case IdxType::i32:
    case IdxType::f32:
    case IdxType::f64:
      return true;
  }
  return false;
}

std::string dims_text(const std::vector<std::size_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// The first 4 bytes (`got` of them present): magic, type, rank. Returns the
// header's size, 4 + 4 * rank.
std::size_t check_prefix(const std::uint8_t* file, std::size_t got, const char* who,
                         const std::string& source) {
  if (got < 4) fail(who, source, fmt::format("truncated: {} bytes, shorter than the 4-byte IDX header", got));
  if (file[0] != 0 || file[1] != 0)
    fail(who, source,
         fmt::format("not an IDX file: magic bytes {:#04x} {:#04x}, expected 0x00 0x00", file[0], file[1]));
  if (!known(file[2])) fail(who, source, fmt::format("unknown IDX data type code {:#04x}", file[2]));
  const std::size_t rank = file[3];
  if (rank < 1 || rank > 8)
    fail(who, source, fmt::format("unsupported number of dimensions {} (1 to 8)", rank));
  return 4 + 4 * rank;
}

// The type and dimensions of a whole header; returns the bytes of data they
// describe, refusing a product that does not fit in size_t.
std::size_t read_dims(const std::uint8_t* header, IdxArray& array, const char* who,
                      const std::string& source) {
  array.type = IdxType(header[2]);
  const std::size_t size = element_size(array.type);
  std::size_t count = 1;
  for (std::size_t k = 0; k < header[3]; ++k) {
    array.dims.push_back(big_endian_u32(&header[4 + 4 * k]));
    if (array.dims.back() != 0 && count > std::numeric_limits<std::size_t>::max() / size / array.dims.back())
      fail(who, source, fmt::format("dimensions {} too large", dims_text(array.dims)));
    count *= array.dims.back();
  }
  return count * size;
}

// IDX stores multi-byte elements big-endian; turn them to this machine's order.
void to_native_order(IdxArray& array) {
  const std::size_t size = element_size(array.type);
  if constexpr (std::endian::native == std::endian::little)
    if (size > 1)
      for (std::size_t i = 0; i < array.bytes.size(); i += size)
        std::reverse(array.bytes.begin() + std::ptrdiff_t(i), array.bytes.begin() + std::ptrdiff_t(i + size));
}

// The data of a gzip-compressed file, read through `gzip -dc` no further
// than its header declares: one byte more is an error, and the child is
// stopped at once (a small .gz can inflate to gigabytes of junk).
IdxArray read_gzip(detail::InputFile& file, const char* who, const std::string& path) {
  if (::lseek(file.descriptor(), 0, SEEK_SET) != 0)
    fail(who, path, fmt::format("cannot rewind ({})", std::strerror(errno)));
  Gunzip gzip(file.descriptor(), who, path);
  std::uint8_t header[4 + 4 * 8];
  // On a short read, gzip's own failure (corrupt data) is the better reason.
  auto short_read = [&](const std::string& problem) {
    gzip.finish();
    fail(who, path, problem);
  };
  const std::size_t got = gzip.read(header, 4);
  if (got < 4)
    short_read(fmt::format("truncated: {} bytes decompressed, shorter than the 4-byte IDX header", got));
  const std::size_t header_size = check_prefix(header, got, who, path);
  const std::size_t got_dims = gzip.read(header + 4, header_size - 4);
  if (4 + got_dims < header_size)
    short_read(fmt::format("truncated: {} bytes decompressed, the header of a rank-{} array needs {}",
                           4 + got_dims, header[3], header_size));
  IdxArray array;
  const std::size_t expected = read_dims(header, array, who, path);
  // Deflate expands at most 1032:1: a header declaring more than that is a lie.
  constexpr std::uint64_t max_ratio = 1032;
  if (expected / max_ratio > file.size())
    fail(who, path,
         fmt::format("corrupt: dimensions {} need {} bytes of data, more than {} bytes of gzip data can hold",
                     dims_text(array.dims), expected, file.size()));
  // Grown as the data arrives: memory follows what gzip actually produces.
  constexpr std::size_t chunk = std::size_t{1} << 20;
  while (array.bytes.size() < expected) {
    const std::size_t before = array.bytes.size();
    array.bytes.resize(before + std::min(chunk, expected - before));
    const std::size_t n = gzip.read(array.bytes.data() + before, array.bytes.size() - before);
    if (before + n < array.bytes.size())
      short_read(fmt::format("truncated: dimensions {} need {} bytes of data, the decompressed file has {}",
                             dims_text(array.dims), expected, before + n));
  }
  std::uint8_t extra = 0;
  if (gzip.read(&extra, 1) != 0)
    fail(who, path,
         fmt::format("corrupt: the decompressed data goes on after the {} bytes that dimensions {} describe",
                     expected, dims_text(array.dims)));
  gzip.finish();
  return array;
}

// A plain file: the header, then exactly the data it declares, checked
// against the file's size before anything is allocated.
IdxArray read_plain(detail::InputFile& file, const std::uint8_t* prefix, std::size_t got, const char* who,
                    const std::string& path) {
  std::uint8_t header[4 + 4 * 8];
  std::copy(prefix, prefix + got, header);
  const std::size_t header_size = check_prefix(header, got, who, path);
  const std::size_t got_dims = file.read(header + 4, header_size - 4);
  if (4 + got_dims < header_size)
    fail(who, path,
         fmt::format("truncated: {} bytes, the header of a rank-{} array needs {}", 4 + got_dims, header[3],
                     header_size));
  IdxArray array;
  const std::size_t expected = read_dims(header, array, who, path);
  const std::uint64_t present = file.size() - header_size;
  if (present < expected)
    fail(who, path,
         fmt::format("truncated: dimensions {} need {} bytes of data, the file has {}", dims_text(array.dims),
                     expected, present));
  if (present > expected)
    fail(who, path,
         fmt::format("corrupt: {} bytes after the {} bytes of data that dimensions {} describe",
                     present - expected, expected, dims_text(array.dims)));
  file.append(array.bytes, expected);
  if (array.bytes.size() < expected)  // shrunk since it was opened
    fail(who, path,
         fmt::format("truncated: dimensions {} need {} bytes of data, the file has {}", dims_text(array.dims),
                     expected, array.bytes.size()));
  return array;
}

IdxArray read_file(const std::string& path, const char* who) {
  detail::InputFile file(path, who);
  std::uint8_t prefix[4];
  const std::size_t got = file.read(prefix, sizeof prefix);
  IdxArray array = got >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b
                       ? read_gzip(file, who, path)
                       : read_plain(file, prefix, got, who, path);
  to_native_order(array);
  return array;
}

}  // namespace

std::size_t element_size(IdxType type) noexcept {
  switch (type) {
    case IdxType::u8:
    case IdxType::i8:
      return 1;
    case IdxType::i16:
      return 2;
    case IdxType::i32:
    case IdxType::f32:
      return 4;
    case IdxType::f64:
      return 8;
  }
  return 0;
}

std::size_t IdxArray::count() const noexcept {
  std::size_t n = 1;
  for (std::size_t d : dims) n *= d;
  return n;
}

IdxArray parse_idx(std::span<const std::uint8_t> file, const std::string& source) {
  constexpr const char* who = "nn::parse_idx";
  const std::size_t header = check_prefix(file.data(), file.size(), who, source);
  if (file.size() < header)
    fail(who, source,
         fmt::format("truncated: {} bytes, the header of a rank-{} array needs {}", file.size(), file[3],
                     header));
  IdxArray array;
  const std::size_t expected = read_dims(file.data(), array, who, source), present = file.size() - header;
  if (present < expected)
    fail(who, source,
         fmt::format("truncated: dimensions {} need {} bytes of data, the file has {}", dims_text(array.dims),
                     expected, present));
  if (present > expected)
    fail(who, source,
         fmt::format("corrupt: {} bytes after the {} bytes of data that dimensions {} describe",
                     present - expected, expected, dims_text(array.dims)));
  array.bytes.assign(file.begin() + std::ptrdiff_t(header), file.end());
  to_native_order(array);
  return array;
}

IdxArray read_idx(const std::string& path) { return read_file(path, "nn::read_idx"); }

IdxImages load_idx_images(const std::string& path) {
  constexpr const char* who = "nn::load_idx_images";
  IdxArray a = read_file(path, who);
  if (a.type != IdxType::u8 || a.dims.size() != 3)
    fail(who, path,
         fmt::format("expected images (unsigned bytes, 3 dimensions), found type {:#04x} with dimensions {}",
                     std::uint8_t(a.type), dims_text(a.dims)));
  return {a.dims[0], a.dims[1], a.dims[2], std::move(a.bytes)};
}

std::vector<std::uint8_t> load_idx_labels(const std::string& path) {
  constexpr const char* who = "nn::load_idx_labels";
  IdxArray a = read_file(path, who);
  if (a.type != IdxType::u8 || a.dims.size() != 1)
    fail(who, path,
         fmt::format("expected labels (unsigned bytes, 1 dimension), found type {:#04x} with dimensions {}",
                     std::uint8_t(a.type), dims_text(a.dims)));
  return std::move(a.bytes);
}

}  // namespace nn
