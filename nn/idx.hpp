// nn::read_idx: arrays in the IDX format of the MNIST family of data sets
// (MNIST, Fashion-MNIST), plain or gzip-compressed.
//
//   nn::IdxImages train =
//   nn::load_idx_images("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
//   std::vector<std::uint8_t> labels = nn::load_idx_labels(".../train-labels-idx1-ubyte.gz");
//
// Format (all integers big-endian):
//   u8 0, u8 0            magic
//   u8 type               0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//   u8 rank               number of dimensions (1 .. 8 accepted)
//   u32 dims[rank]
//   data                  dims[0] * ... * dims[rank-1] elements, row-major
//
// A file starting with the gzip signature (1f 8b) is decompressed by running
// `gzip -dc` on it (no library needed); the data is read no further than the
// header declares (more is an error, and gzip is stopped), a header declaring
// more than deflate's 1032:1 can expand the file to is refused before
// decompressing, and the child and its pipe are released on every path.
// Only regular files are read (a directory, FIFO or device is refused at
// once), and a plain file's size must match its header before anything is
// allocated. Every field is checked; a missing, truncated or corrupt file
// throws std::runtime_error "<function>: <path>: <problem>" naming the
// function called (nn::read_idx, nn::load_idx_images, nn::load_idx_labels,
// nn::parse_idx) and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nn {

enum class IdxType : std::uint8_t { u8 = 0x08, i8 = 0x09, i16 = 0x0B, i32 = 0x0C, f32 = 0x0D, f64 = 0x0E };

// Bytes per element of an IDX type.
std::size_t element_size(IdxType type) noexcept;

struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<std::size_t> dims;
  // The elements, row-major, each in this machine's byte order.
  std::vector<std::uint8_t> bytes;
  std::size_t count() const noexcept;  // the product of dims
};

IdxArray read_idx(const std::string& path);
// Parses IDX bytes already in memory (not compressed); `source` names them
// in error messages.
IdxArray parse_idx(std::span<const std::uint8_t> file, const std::string& source);

// A stack of grey-scale images: an IDX file of type u8 and rank 3
// [count, rows, cols].
struct IdxImages {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, image after image
};
IdxImages load_idx_images(const std::string& path);
// Class labels: an IDX file of type u8 and rank 1.
std::vector<std::uint8_t> load_idx_labels(const std::string& path);

}  // namespace nn
