#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>

#include <sys/wait.h>  // WEXITSTATUS

#include <fmt/format.h>

#include <nn/idx.hpp>

namespace nn {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw std::runtime_error(fmt::format("nn::read_idx: {}: {}", source, problem));
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, fmt::format("cannot open it ({})", std::strerror(errno)));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return bytes;
}

// `gzip -dc` on the file, read through a pipe. The path is single-quoted for
// the shell (a quote inside it becomes '\'').
std::vector<std::uint8_t> gunzip(const std::string& path) {
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const std::string command = fmt::format("gzip -dc -- {} 2>/dev/null", quoted);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) fail(path, fmt::format("cannot run gzip ({})", std::strerror(errno)));
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[1 << 16];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    bytes.insert(bytes.end(), buffer, buffer + got);
  const int status = pclose(pipe);
  if (status != 0)
    fail(path, status == -1 || WEXITSTATUS(status) == 127
                   ? std::string("gzip-compressed, but `gzip -dc` could not be run (is gzip installed?)")
                   : std::string("gzip-compressed, but `gzip -dc` failed: corrupt or truncated .gz data"));
  return bytes;
}

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
  if (file.size() < 4)
    fail(source, fmt::format("truncated: {} bytes, shorter than the 4-byte IDX header", file.size()));
  if (file[0] != 0 || file[1] != 0)
    fail(source,
         fmt::format("not an IDX file: magic bytes {:#04x} {:#04x}, expected 0x00 0x00", file[0], file[1]));
  if (!known(file[2])) fail(source, fmt::format("unknown IDX data type code {:#04x}", file[2]));
  const std::size_t rank = file[3];
  if (rank < 1 || rank > 8) fail(source, fmt::format("unsupported number of dimensions {} (1 to 8)", rank));
  const std::size_t header = 4 + 4 * rank;
  if (file.size() < header)
    fail(source, fmt::format("truncated: {} bytes, the header of a rank-{} array needs {}", file.size(), rank,
                             header));

  IdxArray array;
  array.type = IdxType(file[2]);
  const std::size_t size = element_size(array.type);
  std::size_t count = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    array.dims.push_back(big_endian_u32(&file[4 + 4 * k]));
    if (array.dims.back() != 0 && count > std::numeric_limits<std::size_t>::max() / size / array.dims.back())
      fail(source, fmt::format("dimensions {} too large", dims_text(array.dims)));
    count *= array.dims.back();
  }
  const std::size_t expected = count * size, present = file.size() - header;
  if (present < expected)
    fail(source, fmt::format("truncated: dimensions {} need {} bytes of data, the file has {}",
                             dims_text(array.dims), expected, present));
  if (present > expected)
    fail(source, fmt::format("corrupt: {} bytes after the {} bytes of data that dimensions {} describe",
                             present - expected, expected, dims_text(array.dims)));

  array.bytes.assign(file.begin() + std::ptrdiff_t(header), file.end());
  // IDX stores multi-byte elements big-endian; turn them to this machine's order.
  const std::uint16_t probe = 1;
  const bool little_endian = *reinterpret_cast<const std::uint8_t*>(&probe) == 1;
  if (little_endian && size > 1)
    for (std::size_t i = 0; i < array.bytes.size(); i += size)
      std::reverse(array.bytes.begin() + std::ptrdiff_t(i), array.bytes.begin() + std::ptrdiff_t(i + size));
  return array;
}

IdxArray read_idx(const std::string& path) {
  std::vector<std::uint8_t> file = read_file(path);
  if (file.size() >= 2 && file[0] == 0x1f && file[1] == 0x8b) file = gunzip(path);
  return parse_idx(file, path);
}

IdxImages load_idx_images(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.type != IdxType::u8 || a.dims.size() != 3)
    fail(path,
         fmt::format("expected images (unsigned bytes, 3 dimensions), found type {:#04x} with dimensions {}",
                     std::uint8_t(a.type), dims_text(a.dims)));
  return {a.dims[0], a.dims[1], a.dims[2], std::move(a.bytes)};
}

std::vector<std::uint8_t> load_idx_labels(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.type != IdxType::u8 || a.dims.size() != 1)
    fail(path,
         fmt::format("expected labels (unsigned bytes, 1 dimension), found type {:#04x} with dimensions {}",
                     std::uint8_t(a.type), dims_text(a.dims)));
  return std::move(a.bytes);
}

}  // namespace nn
