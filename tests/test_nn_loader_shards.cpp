// The generic pieces nn::fit offers data-parallel training (no MPI here):
// a DataLoader's shard of every batch, fit's checkpoint writer switch, and
// fit's combine_epoch that sees each epoch's numbers before anything else.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

// Sample i has the single input i, so a batch shows which samples it holds.
nn::TensorDataset<double> numbered(std::size_t n) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = double(i);
  return {ad::Tensor::from({n, 1}, x), std::vector<std::size_t>(n, 0)};
}

std::vector<double> rows(const nn::Batch<double>& b) {
  return {b.inputs.values().begin(), b.inputs.values().end()};
}

}  // namespace

TEST_CASE("the shards of a batch are disjoint, near-equal, and together the unsharded batch") {
  const auto data = numbered(52);  // 3 batches of 16 and one of 4
  for (std::size_t shards : {1, 2, 3, 4}) {
    nn::DataLoader<double> whole(data, {.batch_size = 16, .seed = 5});
    std::vector<nn::DataLoader<double>> parts;
    for (std::size_t s = 0; s < shards; ++s)
      parts.emplace_back(data, nn::LoaderOptions{.batch_size = 16, .seed = 5, .shards = shards, .shard = s});
    for (int epoch = 0; epoch < 2; ++epoch) {
      whole.new_epoch();
      for (auto& p : parts) p.new_epoch();
      REQUIRE(parts[0].size() == whole.size());
      for (std::size_t b = 0; b < whole.size(); ++b) {
        std::vector<double> joined;
        std::size_t smallest = 1000, largest = 0;
        for (const auto& p : parts) {
          const auto r = rows(p.batch(b));
          smallest = std::min(smallest, r.size());
          largest = std::max(largest, r.size());
          joined.insert(joined.end(), r.begin(), r.end());
        }
        CHECK(joined == rows(whole.batch(b)));
        CHECK(largest - smallest <= 1);
      }
    }
  }
}

TEST_CASE("a full-batch loader's shards are slices of the data") {
  const auto data = numbered(7);
  nn::DataLoader<double> second(data, {.shards = 2, .shard = 1});
  CHECK(rows(second.batch(0)) == std::vector<double>{3, 4, 5, 6});
}

TEST_CASE("shard options that cannot work are refused") {
  const auto data = numbered(10);
  CHECK_THROWS_AS(nn::DataLoader<double>(data, {.shards = 0}), std::invalid_argument);
  CHECK_THROWS_AS(nn::DataLoader<double>(data, {.shards = 2, .shard = 2}), std::invalid_argument);
  CHECK_THROWS_AS(nn::DataLoader<double>(data, {.batch_size = 2, .shards = 3}), std::invalid_argument);
  // 10 = 3 x 3 + 1: the last batch has one sample for two shards.
  CHECK_THROWS_WITH(nn::DataLoader<double>(data, {.batch_size = 3, .shards = 2}),
                    doctest::Contains("last batch"));
  CHECK_NOTHROW(nn::DataLoader<double>(data, {.batch_size = 3, .drop_last = true, .shards = 2}));
}

TEST_CASE("fit with write_checkpoints off reads no file into being, and combine_epoch rewrites the epoch") {
  std::mt19937_64 rng(1);
  nn::Sequential m;
  m.add<nn::Dense>(1, 2, nn::Activation::identity, rng);
  nn::SGD<double> opt(m.parameters(), 0.01);
  const auto data = numbered(8);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ad-shards-" + std::to_string(::getpid()) + ".adck"))
          .string();
  std::filesystem::remove(path);
  std::vector<double> seen;
  const nn::History h =
      nn::fit(m, data, nn::cross_entropy, opt,
              {.epochs = 2,
               .on_epoch = [&](const nn::EpochReport& r) { return seen.push_back(r.loss), true; },
               .checkpoint_path = path,
               .checkpoint_every = 1,
               .write_checkpoints = false,
               .combine_epoch = [](nn::EpochReport& r) { r.loss = 42.0; }});
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(h.loss == std::vector<double>{42.0, 42.0});
  CHECK(seen == std::vector<double>{42.0, 42.0});
}
