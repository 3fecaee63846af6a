// Reading Fashion-MNIST for the examples (fashion_mnist, fashion_mnist_mpi):
// the IDX files, compressed or not, as a float dataset of [n, 784] pixels in
// [0, 1] with their labels 0 .. 9.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor.hpp>
#include <nn/data.hpp>
#include <nn/idx.hpp>

namespace fashion {

// The file `name` in `dir`, compressed (.gz) or not; "" when neither exists.
inline std::filesystem::path find(const std::filesystem::path& dir, const std::string& name) {
  for (const std::filesystem::path& p : {dir / (name + ".gz"), dir / name})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// Images [n, 784] (pixels / 255) with their n labels in 0 .. 9 (at most `limit`).
inline nn::TensorDataset<float> load(const std::filesystem::path& images_path,
                                     const std::filesystem::path& labels_path, std::size_t limit) {
  const nn::IdxImages images = nn::load_idx_images(images_path.string());
  const std::vector<std::uint8_t> labels = nn::load_idx_labels(labels_path.string());
  if (images.count != labels.size() || images.rows * images.cols != 784)
    throw std::runtime_error(fmt::format("{} ({} images of {}x{}) and {} ({} labels) do not match",
                                         images_path.string(), images.count, images.rows, images.cols,
                                         labels_path.string(), labels.size()));
  const std::size_t n = std::min(images.count, limit);
  std::vector<float> pixels(n * 784);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = float(images.pixels[i]) / 255.0f;
  std::vector<std::size_t> classes;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] > 9)
      throw std::runtime_error(fmt::format("{}: label {} of sample {}", labels_path.string(), labels[i], i));
    classes.push_back(labels[i]);
  }
  return {ad::TensorF::from({n, 784}, std::move(pixels)), std::move(classes)};
}

}  // namespace fashion
