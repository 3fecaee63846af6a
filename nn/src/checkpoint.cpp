#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <nn/checkpoint.hpp>

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'C', 'K'};
constexpr std::uint32_t format_version = 1;

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// GCC 12 reports a false "writing 1 byte into a region of size 0" for the
// appends below once they are inlined into save_checkpoint (GCC bug 106199).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
class Encoder {
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

class Decoder {
 public:
  Decoder(const std::vector<std::uint8_t>& bytes, std::size_t end, const std::string& path)
      : bytes_(bytes), end_(end), path_(path) {}
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
    std::string s(bytes_.begin() + static_cast<std::ptrdiff_t>(pos_), bytes_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
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
  bool at_end() const { return pos_ == end_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(fmt::format("nn::load_checkpoint: '{}': {}", path_, why));
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (end_ - pos_ < n) fail(fmt::format("truncated: the file ends while reading {} at byte {}", what, pos_));
  }
  const std::vector<std::uint8_t>& bytes_;
  std::size_t end_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

[[noreturn]] void write_failed(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error(fmt::format("nn::save_checkpoint: {} '{}': {}", what, path, std::strerror(err)));
}

// temp file + fsync + rename + fsync of the folder: after a crash at any
// point the target is the old file or the complete new one.
void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  static std::atomic<unsigned> counter{0};
  const std::string temporary = fmt::format("{}.tmp-{}-{}", path, ::getpid(), counter++);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) write_failed("cannot create", temporary, errno);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      write_failed("writing failed on", temporary, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    write_failed("flushing failed on", temporary, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    write_failed("closing failed on", temporary, err);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    write_failed("cannot replace", path, err);
  }
  // The rename itself is durable once the folder's entry is on disk.
  const std::size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const NetworkT<T>& net, const Optimizer<T>& optimizer,
                     const TrainingState& state) {
  Encoder e;
  for (char c : magic) e.put(static_cast<std::uint8_t>(c));
  e.put(format_version);
  e.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
  for (int i = 0; i < 3; ++i) e.put(std::uint8_t{0});
  const std::vector<std::size_t> sizes = net.sizes();
  e.put(static_cast<std::uint32_t>(net.depth()));
  for (std::size_t n : sizes) e.put(static_cast<std::uint64_t>(n));
  const std::vector<T> theta = net.flat_parameters();
  e.put(static_cast<std::uint64_t>(theta.size()));
  for (T v : theta) e.put(v);
  const OptimizerState o = optimizer.state();
  e.put_string(o.kind);
  e.put(o.learning_rate);
  e.put(o.steps);
  e.put(static_cast<std::uint32_t>(o.buffers.size()));
  for (const auto& b : o.buffers) {
    e.put(static_cast<std::uint64_t>(b.size()));
    for (double v : b) e.put(v);
  }
  e.put(state.epoch);
  e.put_string(state.rng);
  e.put(static_cast<std::uint64_t>(state.order.size()));
  for (std::uint64_t i : state.order) e.put(i);
  e.put(state.best);
  e.put(state.epochs_without_improvement);
  e.put(static_cast<std::uint64_t>(state.loss.size()));
  for (double v : state.loss) e.put(v);
  e.put(static_cast<std::uint64_t>(state.validation_loss.size()));
  for (double v : state.validation_loss) e.put(v);
  e.put_string(state.stop_reason);
  e.put(fnv1a(e.bytes.data(), e.bytes.size()));
  write_atomically(path, e.bytes);
}

template <class T>
TrainingState load_checkpoint(const std::string& path, NetworkT<T>& net, Optimizer<T>& optimizer) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(fmt::format("nn::load_checkpoint: cannot open '{}': {}", path, std::strerror(errno)));
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Decoder header(bytes, bytes.size(), path);
  for (char c : magic)
    if (header.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      header.fail("not a checkpoint file (wrong magic bytes)");
  const auto version = header.get<std::uint32_t>("the version");
  if (version != format_version)
    header.fail(fmt::format("format version {} is not supported (this build reads version {})", version, format_version));
  if (bytes.size() < 16) header.fail("truncated: no room for the checksum");
  std::uint64_t stored = 0;
  for (std::size_t i = 8; i-- > 0;) stored = (stored << 8) | bytes[bytes.size() - 8 + i];
  if (stored != fnv1a(bytes.data(), bytes.size() - 8))
    header.fail("corrupt or truncated: the checksum does not match the contents");

  Decoder d(bytes, bytes.size() - 8, path);
  for (int i = 0; i < 8; ++i) d.get<std::uint8_t>("the header");
  const auto dtype = d.get<std::uint8_t>("the element type");
  const std::uint8_t expected_dtype = std::is_same_v<T, float> ? 0 : 1;
  if (dtype != expected_dtype)
    d.fail(fmt::format("saved with {} parameters, loading into a {} network", dtype == 0 ? "float32" : dtype == 1 ? "float64" : "unknown",
                       expected_dtype == 0 ? "float32" : "float64"));
  for (int i = 0; i < 3; ++i)
    if (d.get<std::uint8_t>("reserved bytes") != 0) d.fail("reserved header bytes are not zero");
  const auto depth = d.get<std::uint32_t>("the number of layers");
  if (depth > (bytes.size() / 8)) d.fail(fmt::format("implausible number of layers {}", depth));
  std::vector<std::size_t> sizes;
  for (std::uint32_t k = 0; k <= depth; ++k) sizes.push_back(static_cast<std::size_t>(d.get<std::uint64_t>("layer sizes")));
  if (sizes != net.sizes())
    d.fail(fmt::format("saved for a network of sizes [{}], loading into one of sizes [{}]", fmt::join(sizes, ", "),
                       fmt::join(net.sizes(), ", ")));
  const auto count = d.get_count(sizeof(T), "the parameter count");
  if (count != net.parameter_count())
    d.fail(fmt::format("holds {} parameters, the network has {}", count, net.parameter_count()));
  std::vector<T> theta(static_cast<std::size_t>(count));
  for (T& v : theta) v = d.get<T>("the parameters");

  OptimizerState o;
  o.kind = d.get_string("the optimiser kind");
  o.learning_rate = d.get<double>("the learning rate");
  o.steps = d.get<std::uint64_t>("the optimiser steps");
  const auto buffers = d.get<std::uint32_t>("the optimiser buffer count");
  for (std::uint32_t k = 0; k < buffers; ++k) {
    std::vector<double> b(static_cast<std::size_t>(d.get_count(sizeof(double), "an optimiser buffer length")));
    for (double& v : b) v = d.get<double>("an optimiser buffer");
    o.buffers.push_back(std::move(b));
  }
  TrainingState state;
  state.epoch = d.get<std::uint64_t>("the epoch");
  state.rng = d.get_string("the RNG state");
  state.order.resize(static_cast<std::size_t>(d.get_count(sizeof(std::uint64_t), "the sample order length")));
  for (auto& i : state.order) i = d.get<std::uint64_t>("the sample order");
  state.best = d.get<double>("the best loss");
  state.epochs_without_improvement = d.get<std::uint64_t>("the epochs without improvement");
  state.loss.resize(static_cast<std::size_t>(d.get_count(sizeof(double), "the loss history length")));
  for (double& v : state.loss) v = d.get<double>("the loss history");
  state.validation_loss.resize(static_cast<std::size_t>(d.get_count(sizeof(double), "the validation history length")));
  for (double& v : state.validation_loss) v = d.get<double>("the validation history");
  state.stop_reason = d.get_string("the stop reason");
  if (!d.at_end()) d.fail("unexpected bytes after the last field");

  // Everything parsed: only now touch the caller's network and optimiser.
  try {
    optimizer.load_state(o);
  } catch (const std::invalid_argument& e) {
    d.fail(fmt::format("the optimiser does not match: {}", e.what()));
  }
  net.set_flat_parameters(theta);
  return state;
}

template void save_checkpoint(const std::string&, const NetworkT<float>&, const Optimizer<float>&, const TrainingState&);
template void save_checkpoint(const std::string&, const NetworkT<double>&, const Optimizer<double>&, const TrainingState&);
template TrainingState load_checkpoint(const std::string&, NetworkT<float>&, Optimizer<float>&);
template TrainingState load_checkpoint(const std::string&, NetworkT<double>&, Optimizer<double>&);

}  // namespace nn
