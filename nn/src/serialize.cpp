#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nn/serialize.hpp>

#include "binary_io.hpp"
#include "model_rules.hpp"

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'N', 'N'};
constexpr std::uint32_t format_version = 1;
using detail::activation_problem;
using detail::layer_problem;
using detail::max_layer_width;

std::uint64_t little_endian_u64(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 8; i-- > 0;) value = (value << 8) | bytes[at + i];
  return value;
}

// Why the checksum does not match, as precisely as the bytes allow: a whole
// model followed by extra bytes (its checksum then sits earlier in the file),
// a file shorter than its layer headers describe (cut short), or changed
// contents. `depth` and `element` come from the header, already validated.
std::string checksum_mismatch(const std::vector<std::uint8_t>& bytes, std::uint32_t depth,
                              std::size_t element) {
  constexpr std::size_t header_size = 16;
  // FNV-1a runs over the bytes in order, so one pass gives the hash of every
  // prefix: h is the hash of bytes [0, end) when compared.
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t end = 0; end + 8 < bytes.size(); ++end) {
    if (end >= header_size && little_endian_u64(bytes, end) == h)
      return fmt::format("{} trailing bytes after the end of the model (its checksum ends at byte {})",
                         bytes.size() - end - 8, end + 8);
    h ^= bytes[end];
    h *= 0x100000001b3ull;
  }
  std::uint64_t needed = header_size;
  for (std::uint32_t L = 0; L < depth && needed <= bytes.size(); ++L) {
    if (needed + 17 > bytes.size()) {
      needed += 17;
      break;
    }
    const std::uint64_t inputs = little_endian_u64(bytes, needed),
                        outputs = little_endian_u64(bytes, needed + 8);
    if (inputs > max_layer_width || outputs > max_layer_width) break;  // a corrupt size field
    needed += 17 + outputs + (inputs * outputs + outputs) * element;
  }
  if (needed + 8 > bytes.size())
    return fmt::format(
        "truncated or corrupt: the layers described need {} bytes but the file has {}, and the checksum "
        "does not match",
        needed + 8, bytes.size());
  return "corrupt: the checksum does not match the contents";
}

}  // namespace

template <class T>
void save(const NetworkT<T>& net, const std::string& path) {
  // Nothing load() would refuse is written.
  if (const std::string problem = detail::network_problem(net); !problem.empty())
    throw std::invalid_argument(fmt::format("nn::save: not saving to '{}': {}", path, problem));
  detail::ByteWriter w;
  for (char c : magic) w.put(static_cast<std::uint8_t>(c));
  w.put(format_version);
  w.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
  for (int i = 0; i < 3; ++i) w.put(std::uint8_t{0});
  w.put(static_cast<std::uint32_t>(net.depth()));
  for (const auto& layer : net.layers()) {
    w.put(static_cast<std::uint64_t>(layer.inputs()));
    w.put(static_cast<std::uint64_t>(layer.outputs()));
    w.put(static_cast<std::uint8_t>(layer.heaviside_gradient()));
    for (Activation psi : layer.activations()) w.put(file_code(psi));
    for (T v : layer.weights().values()) w.put(v);
    for (T v : layer.bias().values()) w.put(v);
  }
  w.put(detail::fnv1a(w.bytes.data(), w.bytes.size()));
  detail::write_atomically(path, w.bytes, "nn::save");
}

template <class T>
NetworkT<T> load(const std::string& path) {
  constexpr std::size_t header_size = 16;
  detail::InputFile file(path, "nn::load");
  // The header first: a file that is not a model is refused after 16 bytes,
  // whatever its size.
  std::vector<std::uint8_t> bytes;
  file.append(bytes, header_size);
  detail::ByteReader h(bytes, bytes.size(), path, "nn::load");
  // A Module's named state has no architecture to rebuild a network from.
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "ADST", 4) == 0)
    h.fail(
        "a named-state file (nn::save of a Module), not an .adnn network: load it into a constructed model "
        "with nn::load_into");
  for (char c : magic)
    if (h.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      h.fail("not an .adnn model file (wrong magic bytes)");
  const auto version = h.get<std::uint32_t>("the version");
  if (version != format_version)
    h.fail(fmt::format("format version {} is not supported (this build reads version {})", version,
                       format_version));
  const auto dtype = h.get<std::uint8_t>("the element type");
  if (dtype > 1) h.fail(fmt::format("unknown element type code {}", dtype));
  for (int i = 0; i < 3; ++i)
    if (h.get<std::uint8_t>("reserved bytes") != 0) h.fail("reserved header bytes are not zero");
  const auto depth = h.get<std::uint32_t>("the number of layers");
  if (depth == 0) h.fail("the model has no layers");
  file.append(bytes, static_cast<std::size_t>(file.size()));  // the rest, bounded by the file's size

  detail::ByteReader r(bytes, bytes.size(), path, "nn::load");
  r.skip(header_size, "the header");
  // The checksum covers everything before the last 8 bytes; check it before
  // trusting any size field further.
  if (bytes.size() < header_size + 8) r.fail("truncated: no room for the checksum");
  std::uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) stored = (stored << 8) | bytes[bytes.size() - 8 + static_cast<std::size_t>(i)];
  if (stored != detail::fnv1a(bytes.data(), bytes.size() - 8))
    r.fail(checksum_mismatch(bytes, depth, dtype == 0 ? 4 : 8));

  const std::size_t element = dtype == 0 ? 4 : 8;
  auto read_value = [&](const char* what) -> T {
    return dtype == 0 ? static_cast<T>(r.get<float>(what)) : static_cast<T>(r.get<double>(what));
  };
  std::vector<DenseT<T>> layers;
  for (std::uint32_t L = 1; L <= depth; ++L) {
    const auto inputs = r.get<std::uint64_t>("a layer's input count");
    const auto outputs = r.get<std::uint64_t>("a layer's output count");
    const auto policy = r.get<std::uint8_t>("the Heaviside gradient policy");
    if (std::string problem =
            layer_problem(L, inputs, outputs, layers.empty() ? 0 : layers.back().outputs(), policy);
        !problem.empty())
      r.fail(problem);
    if (r.remaining() < outputs + (inputs * outputs + outputs) * element + 8)
      r.fail(fmt::format("truncated: layer {} ({} -> {}) needs more bytes than the file holds", L, inputs,
                         outputs));
    std::vector<Activation> activations(outputs);
    for (std::size_t j = 0; j < activations.size(); ++j) {
      const auto code = r.get<std::uint8_t>("an activation");
      if (std::string problem = activation_problem(L, j, code); !problem.empty()) r.fail(problem);
      activations[j] = *activation_from_file_code(code);
    }
    std::vector<T> W(inputs * outputs), b(outputs);
    for (T& v : W) v = read_value("weights");
    for (T& v : b) v = read_value("biases");
    DenseT<T> layer(ad::TensorT<T>::from(ad::Shape{outputs, inputs}, std::move(W)),
                    ad::TensorT<T>::from(ad::Shape{outputs}, std::move(b)), std::move(activations));
    layer.set_heaviside_gradient(static_cast<HeavisideGradient>(policy));
    layers.push_back(std::move(layer));
  }
  if (r.remaining() != 8) r.fail(fmt::format("{} unexpected bytes after the last layer", r.remaining() - 8));
  return NetworkT<T>(std::move(layers));
}

template void save(const NetworkT<float>&, const std::string&);
template void save(const NetworkT<double>&, const std::string&);
template NetworkT<float> load(const std::string&);
template NetworkT<double> load(const std::string&);

}  // namespace nn
