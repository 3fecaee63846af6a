// Specification: nn::read_idx reads IDX arrays (plain or gzip-compressed),
// turns multi-byte elements to this machine's byte order, and rejects
// missing, truncated and corrupt files with a message naming the file and the
// problem. The test writes its own small files.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <nn/idx.hpp>

namespace {

namespace fs = std::filesystem;

// A scratch folder, removed at the end of the test case.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::random_device seed;
    dir = fs::temp_directory_path() / fmt::format("ad_test_idx_{:x}", std::uint64_t(seed()) << 32 | seed());
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string write(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    const fs::path path = dir / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path.string();
  }
};

// An IDX file: header (magic, type, rank, big-endian dims) then `data`.
std::vector<std::uint8_t> idx(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                              const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> f = {0, 0, type, std::uint8_t(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) f.push_back(std::uint8_t(d >> shift));
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

// Three 2x2 images with pixels 0, 1, ..., 11.
std::vector<std::uint8_t> three_images() {
  std::vector<std::uint8_t> pixels(12);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::uint8_t(i);
  return idx(0x08, {3, 2, 2}, pixels);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no exception)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a valid image file reads back its dimensions and pixels") {
  Scratch scratch;
  const std::string path = scratch.write("images-idx3-ubyte", three_images());
  const nn::IdxArray a = nn::read_idx(path);
  CHECK(a.type == nn::IdxType::u8);
  CHECK(a.dims == std::vector<std::size_t>{3, 2, 2});
  CHECK(a.count() == 12);
  REQUIRE(a.bytes.size() == 12);
  CHECK(a.bytes[11] == 11);

  const nn::IdxImages images = nn::load_idx_images(path);
  CHECK(images.count == 3);
  CHECK(images.rows == 2);
  CHECK(images.cols == 2);
  CHECK(images.pixels == a.bytes);
}

TEST_CASE("a valid label file reads back as one byte per label") {
  Scratch scratch;
  const std::string path = scratch.write("labels-idx1-ubyte", idx(0x08, {4}, {9, 0, 3, 7}));
  CHECK(nn::load_idx_labels(path) == std::vector<std::uint8_t>{9, 0, 3, 7});
}

TEST_CASE("multi-byte elements are stored big-endian and read in this machine's order") {
  Scratch scratch;
  const std::string path =
      scratch.write("ints", idx(0x0C, {2}, {0x00, 0x00, 0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFE}));
  const nn::IdxArray a = nn::read_idx(path);
  REQUIRE(a.bytes.size() == 8);
  std::int32_t values[2];
  std::memcpy(values, a.bytes.data(), sizeof values);
  CHECK(values[0] == 0x0102);
  CHECK(values[1] == -2);
  CHECK(nn::element_size(nn::IdxType::f64) == 8);
}

TEST_CASE("a gzip-compressed file is decompressed transparently") {
  if (std::system("command -v gzip >/dev/null 2>&1") != 0) {
    MESSAGE("gzip is not installed: skipped");
    return;
  }
  Scratch scratch;
  const std::string plain = scratch.write("images", three_images());
  REQUIRE(std::system(fmt::format("gzip -c '{}' > '{}.gz'", plain, plain).c_str()) == 0);
  const nn::IdxImages images = nn::load_idx_images(plain + ".gz");
  CHECK(images.count == 3);
  CHECK(images.pixels == nn::read_idx(plain).bytes);
}

TEST_CASE("corrupt gzip data is reported as such") {
  Scratch scratch;
  const std::string path = scratch.write("broken.gz", {0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03});
  const std::string message = error_of([&] { nn::read_idx(path); });
  CHECK(contains(message, path));
  CHECK(contains(message, "gzip"));
}

TEST_CASE("a missing file is an error naming it") {
  Scratch scratch;
  const std::string path = (scratch.dir / "no-such-file").string();
  const std::string message = error_of([&] { nn::read_idx(path); });
  CHECK(contains(message, path));
  CHECK(contains(message, "cannot open"));
}

TEST_CASE("truncated data is an error that says how much is missing") {
  Scratch scratch;
  const std::vector<std::uint8_t> full = three_images();
  const std::vector<std::uint8_t> bytes(full.begin(), full.end() - 5);  // the last 5 pixels lost
  const std::string path = scratch.write("short", bytes);
  const std::string message = error_of([&] { nn::read_idx(path); });
  CHECK(contains(message, path));
  CHECK(contains(message, "truncated"));
  CHECK(contains(message, "need 12 bytes of data, the file has 7"));
}

TEST_CASE("a truncated header is an error") {
  Scratch scratch;
  CHECK(contains(error_of([&] { nn::read_idx(scratch.write("tiny", {0, 0})); }), "truncated"));
  const std::vector<std::uint8_t> half_dims = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0};
  CHECK(contains(error_of([&] { nn::read_idx(scratch.write("half", half_dims)); }),
                 "header of a rank-3 array"));
}

TEST_CASE("a bad magic number is an error") {
  Scratch scratch;
  std::vector<std::uint8_t> bytes = three_images();
  bytes[0] = 0x50;  // e.g. a PNG or text file
  const std::string message = error_of([&] { nn::read_idx(scratch.write("bad-magic", bytes)); });
  CHECK(contains(message, "not an IDX file"));
}

TEST_CASE("an unknown data type code and a zero rank are errors") {
  Scratch scratch;
  CHECK(contains(error_of([&] { nn::read_idx(scratch.write("type", idx(0x07, {1}, {0}))); }),
                 "unknown IDX data type"));
  CHECK(contains(error_of([&] { nn::read_idx(scratch.write("rank", idx(0x08, {}, {}))); }),
                 "number of dimensions 0"));
}

TEST_CASE("bytes after the described data are reported as corruption") {
  Scratch scratch;
  std::vector<std::uint8_t> bytes = three_images();
  bytes.push_back(0);
  CHECK(contains(error_of([&] { nn::read_idx(scratch.write("long", bytes)); }), "1 bytes after"));
}

TEST_CASE("images and labels must have the expected type and rank") {
  Scratch scratch;
  const std::string labels = scratch.write("labels", idx(0x08, {4}, {1, 2, 3, 4}));
  const std::string images = scratch.write("images", three_images());
  CHECK(contains(error_of([&] { nn::load_idx_images(labels); }), "expected images"));
  CHECK(contains(error_of([&] { nn::load_idx_labels(images); }), "expected labels"));
}

namespace {

bool have_gzip() { return std::system("command -v gzip >/dev/null 2>&1") == 0; }

// `bytes` gzip-compressed by the gzip program, written as `name`.
std::string gzipped(const Scratch& scratch, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  const std::string plain = scratch.write(name, bytes);
  REQUIRE(std::system(fmt::format("gzip -f '{}'", plain).c_str()) == 0);
  return plain + ".gz";
}

std::size_t open_descriptors() {
  return std::size_t(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{}));
}

}  // namespace

TEST_CASE(
    "a gzip file that inflates past what its header declares is refused once the declared data is read") {
  if (!have_gzip()) {
    MESSAGE("gzip is not installed: skipped");
    return;
  }
  Scratch scratch;
  // 10 images of 28 x 28 declared, then 32 MiB of zeros: a small .gz.
  std::vector<std::uint8_t> bomb = idx(0x08, {10, 28, 28}, {});
  bomb.resize(bomb.size() + (std::size_t{32} << 20));
  const std::string path = gzipped(scratch, "bomb", bomb);
  CHECK(fs::file_size(path) < (std::size_t{1} << 20));
  const std::string message = error_of([&] { nn::load_idx_images(path); });
  CHECK(message ==
        fmt::format("nn::load_idx_images: {}: corrupt: the decompressed data goes on after the 7840 bytes "
                    "that dimensions [10, 28, 28] describe",
                    path));
}

TEST_CASE("a gzip file whose header declares more than deflate can hold is refused before decompressing") {
  if (!have_gzip()) {
    MESSAGE("gzip is not installed: skipped");
    return;
  }
  Scratch scratch;
  const std::string path = gzipped(scratch, "liar", idx(0x08, {60000, 1000, 1000}, {1, 2, 3}));
  const std::string message = error_of([&] { nn::load_idx_images(path); });
  CHECK(contains(message, "dimensions [60000, 1000, 1000] need 60000000000 bytes of data, more than"));
  CHECK(contains(message, fmt::format("more than {} bytes of gzip data can hold", fs::file_size(path))));
}

TEST_CASE("gzip data shorter than its header declares is reported as truncated") {
  if (!have_gzip()) {
    MESSAGE("gzip is not installed: skipped");
    return;
  }
  Scratch scratch;
  const std::string path = gzipped(scratch, "short", idx(0x08, {3, 2, 2}, {1, 2, 3, 4, 5}));
  CHECK(error_of([&] { nn::read_idx(path); }) ==
        fmt::format(
            "nn::read_idx: {}: truncated: dimensions [3, 2, 2] need 12 bytes of data, the decompressed file "
            "has 5",
            path));
}

TEST_CASE("the gzip child process and its pipe are gone after every outcome") {
  if (!have_gzip()) {
    MESSAGE("gzip is not installed: skipped");
    return;
  }
  Scratch scratch;
  std::vector<std::uint8_t> bomb = idx(0x08, {2}, {});
  bomb.resize(bomb.size() + (std::size_t{4} << 20));
  const std::vector<std::string> files = {
      gzipped(scratch, "good", three_images()), gzipped(scratch, "bomb", bomb),
      gzipped(scratch, "short", idx(0x08, {4}, {1})),
      gzipped(scratch, "huge-dims", idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})),
      scratch.write("broken.gz", {0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03})};
  const std::size_t before = open_descriptors();
  for (const std::string& path : files) {
    CAPTURE(path);
    (void)error_of([&] { nn::read_idx(path); });
    CHECK(open_descriptors() == before);
    errno = 0;
    CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // no child, running or exited, is left
    CHECK(errno == ECHILD);
  }
}

TEST_CASE("the loaders name themselves in their errors") {
  Scratch scratch;
  const std::string path = (scratch.dir / "missing").string();
  CHECK(contains(error_of([&] { nn::load_idx_images(path); }), "nn::load_idx_images: cannot open '" + path));
  CHECK(contains(error_of([&] { nn::load_idx_labels(path); }), "nn::load_idx_labels: cannot open '" + path));
  CHECK(contains(error_of([&] { nn::read_idx(path); }), "nn::read_idx: cannot open '" + path));
  CHECK(contains(error_of([&] {
                   nn::parse_idx(std::vector<std::uint8_t>{0, 0}, "memory");
                 }),
                 "nn::parse_idx: memory: truncated"));
}
