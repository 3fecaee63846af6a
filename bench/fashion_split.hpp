// Fashion-MNIST for the benchmarks (bench_fashion, bench_cnn): raw arrays
// that both contestants read (ours wraps them in tensors, LibTorch views
// them with from_blob), pixels scaled to [0, 1].
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nn/idx.hpp>

namespace bench::fashion {

struct Split {
  std::vector<float> pixels;         // [count, 784], in [0, 1]
  std::vector<std::int64_t> labels;  // 0 .. 9
  std::size_t count() const { return labels.size(); }
};

// `name` or `name.gz` in `dir`, or an empty path.
inline std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& name) {
  for (const std::filesystem::path& p : {dir / (name + ".gz"), dir / name})
    if (std::filesystem::exists(p)) return p;
  return {};
}

inline Split load_split(const std::filesystem::path& images_path, const std::filesystem::path& labels_path) {
  const nn::IdxImages images = nn::load_idx_images(images_path.string());
  const std::vector<std::uint8_t> labels = nn::load_idx_labels(labels_path.string());
  if (images.count != labels.size() || images.rows * images.cols != 784)
    throw std::runtime_error(
        fmt::format("{} and {} do not match", images_path.string(), labels_path.string()));
  Split s;
  s.pixels.resize(images.pixels.size());
  for (std::size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = float(images.pixels[i]) / 255.0f;
  s.labels.assign(labels.begin(), labels.end());
  return s;
}

// The four files (train images, train labels, test images, test labels), or
// an empty list when one is missing.
inline std::vector<std::filesystem::path> find_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files{
      find_file(dir, "train-images-idx3-ubyte"), find_file(dir, "train-labels-idx1-ubyte"),
      find_file(dir, "t10k-images-idx3-ubyte"), find_file(dir, "t10k-labels-idx1-ubyte")};
  for (const auto& f : files)
    if (f.empty()) return {};
  return files;
}

}  // namespace bench::fashion
