// Named-state files (nn/state_file.hpp): any Module's parameters and buffers
// by name. The reader checks the checksum before it trusts any field, bounds
// every count by the bytes the file holds, and load_into compares the whole
// file with the model before it writes a single value.
#include <nn/state_file.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include <nn/network.hpp>
#include <nn/serialize.hpp>

#include "binary_io.hpp"
#include "state_rules.hpp"

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'S', 'T'};
constexpr char network_magic[4] = {'A', 'D', 'N', 'N'};
constexpr std::uint32_t format_version = 1;
constexpr std::size_t header_size = 16;
using detail::max_state_tensors;
using detail::state_name_problem;

template <class T>
struct StateRead {
  std::vector<StateEntry<T>> entries;
  std::optional<NetworkT<T>> network;  // when the file is an .adnn network
};

// One tensor's values, `dtype` in the file, converted to T. A double too
// large for float would become infinity: refused rather than changed.
template <class T>
std::vector<T> read_values(detail::ByteReader& r, std::uint8_t dtype, std::size_t n,
                           const std::string& name) {
  std::vector<T> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (dtype == 0) {
      values[i] = static_cast<T>(r.get<float>("the values"));
    } else {
      const double v = r.get<double>("the values");
      if constexpr (std::is_same_v<T, float>) {
        if (std::isfinite(v) && std::fabs(v) > double(std::numeric_limits<float>::max()))
          r.fail(fmt::format("'{}' holds {:g} at index {}, too large for a float model", name, v, i));
      }
      values[i] = static_cast<T>(v);
    }
  }
  return values;
}

// The tensors after the header, up to the checksum (`r` ends there).
template <class T>
std::vector<StateEntry<T>> parse_tensors(detail::ByteReader& r, std::uint32_t count) {
  std::vector<StateEntry<T>> entries;
  std::unordered_set<std::string> seen;
  for (std::uint32_t k = 0; k < count; ++k) {
    StateEntry<T> e;
    e.name = r.get_string("a tensor's name");
    if (std::string problem = state_name_problem(e.name); !problem.empty())
      r.fail(fmt::format("tensor {}: {}", k, problem));
    if (!seen.insert(e.name).second) r.fail(fmt::format("tensor '{}' appears twice", e.name));
    const auto kind = r.get<std::uint8_t>("a tensor's kind");
    if (kind > 1) r.fail(fmt::format("tensor '{}' has an unknown kind code {}", e.name, kind));
    e.kind = static_cast<StateKind>(kind);
    const auto dtype = r.get<std::uint8_t>("a tensor's element type");
    if (dtype > 1) r.fail(fmt::format("tensor '{}' has an unknown element type code {}", e.name, dtype));
    const auto rank = r.get<std::uint8_t>("a tensor's rank");
    if (rank > ad::Shape::max_rank)
      r.fail(fmt::format("tensor '{}' has rank {} (at most {})", e.name, rank, ad::Shape::max_rank));
    std::vector<std::size_t> dims(rank);
    const std::size_t element = dtype == 0 ? 4 : 8;
    std::uint64_t numel = 1;
    for (auto& d : dims) {
      const auto dim = r.get<std::uint64_t>("a tensor's dimensions");
      // Every product stays within what the file can hold, so it never overflows.
      if (dim != 0 && numel > r.remaining() / element / dim)
        r.fail(fmt::format("truncated or corrupt: tensor '{}' has more values than the file holds", e.name));
      numel *= dim;
      d = static_cast<std::size_t>(dim);
    }
    if (numel > r.remaining() / element)
      r.fail(fmt::format("truncated or corrupt: tensor '{}' has more values than the file holds", e.name));
    // A zero extent keeps numel within the file while the others could still
    // be too large for any tensor: refused as a corrupt file, not a logic error.
    std::optional<ad::Shape> shape;
    try {
      shape.emplace(std::span<const std::size_t>(dims));
    } catch (const std::logic_error& err) {
      r.fail(fmt::format("tensor '{}': {}", e.name, err.what()));
    }
    e.value = ad::TensorT<T>::from(*shape, read_values<T>(r, dtype, static_cast<std::size_t>(numel), e.name));
    entries.push_back(std::move(e));
  }
  if (!r.at_end()) r.fail(fmt::format("{} unexpected bytes after the last tensor", r.remaining()));
  return entries;
}

std::uint64_t stored_checksum(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 8; i-- > 0;) value = (value << 8) | bytes[bytes.size() - 8 + i];
  return value;
}

template <class T>
StateRead<T> read_state_as(const std::string& path, const char* who) {
  // Regular files only, the header first: a file that is not a state is
  // refused after 16 bytes whatever its size, and nothing is read past the
  // size the file had when opened.
  detail::InputFile file(path, who);
  std::vector<std::uint8_t> bytes;
  file.append(bytes, header_size);
  StateRead<T> out;
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), network_magic, 4) == 0) {
    // An .adnn network file: nn::load checks it; its tensors are the
    // network's named parameters.
    out.network.emplace(load<T>(path));
    for (const auto& [name, p] : out.network->named_parameters())
      out.entries.push_back(StateEntry<T>{name, StateKind::parameter, p.detach()});
    return out;
  }
  detail::ByteReader h(bytes, bytes.size(), path, who);
  for (char c : magic)
    if (h.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      h.fail("not a named-state file (wrong magic bytes)");
  const auto version = h.get<std::uint32_t>("the version");
  if (version != format_version)
    h.fail(fmt::format("format version {} is not supported (this build reads version {})", version,
                       format_version));
  const auto count = h.get<std::uint32_t>("the number of tensors");
  if (count > max_state_tensors)
    h.fail(fmt::format("implausible number of tensors {} (at most {})", count, max_state_tensors));
  if (h.get<std::uint32_t>("reserved bytes") != 0) h.fail("reserved header bytes are not zero");
  file.append(bytes, static_cast<std::size_t>(file.size()));  // the rest, bounded by the file's size
  if (bytes.size() < header_size + 8) h.fail("truncated: no room for the checksum");

  detail::ByteReader r(bytes, bytes.size() - 8, path, who);
  r.skip(header_size, "the header");
  if (stored_checksum(bytes) != detail::fnv1a(bytes.data(), bytes.size() - 8)) {
    // Say what the structure shows (cut short, extra bytes), if anything.
    try {
      (void)parse_tensors<T>(r, count);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("{} (and the checksum does not match)", e.what()));
    }
    r.fail("corrupt: the checksum does not match the contents");
  }
  out.entries = parse_tensors<T>(r, count);
  return out;
}

std::string listed(const std::vector<std::string>& items) {
  constexpr std::size_t shown = 8;
  std::string s;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > shown) s += fmt::format(" and {} more", items.size() - shown);
  return s;
}

const char* kind_name(StateKind k) { return k == StateKind::parameter ? "parameter" : "buffer"; }

// The activations and Heaviside policies of `file` and `model`, layer by
// layer (the sizes already match), where they differ.
template <class T>
void network_differences(const NetworkT<T>& file, const NetworkT<T>& model, std::vector<std::string>& out) {
  for (std::size_t L = 0; L < model.depth() && L < file.depth(); ++L) {
    const auto &a = file.layers()[L], &b = model.layers()[L];
    if (a.activations() != b.activations())
      for (std::size_t j = 0; j < a.activations().size() && j < b.activations().size(); ++j)
        if (a.activations()[j] != b.activations()[j]) {
          out.push_back(fmt::format("layer {} neuron {} is {} in the file, {} in the model", L + 1, j + 1,
                                    name(a.activations()[j]), name(b.activations()[j])));
          break;
        }
    if (a.heaviside_gradient() != b.heaviside_gradient())
      out.push_back(fmt::format("layer {}'s Heaviside gradient policy differs", L + 1));
  }
}

}  // namespace

template <class T>
void save(const ModuleT<T>& module, const std::string& path) {
  if (const auto* net = dynamic_cast<const NetworkT<T>*>(&module)) return save(*net, path);
  std::vector<StateEntry<T>> entries;
  for (auto& [name, p] : module.named_parameters()) entries.push_back({name, StateKind::parameter, p});
  for (auto& [name, b] : module.named_buffers()) entries.push_back({name, StateKind::buffer, b});
  // Nothing the reader would refuse is written.
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument(
        fmt::format("nn::save: not saving the {} to '{}': {}", module.type_name(), path, why));
  };
  if (entries.size() > max_state_tensors)
    refuse(fmt::format("{} tensors (at most {})", entries.size(), max_state_tensors));
  std::unordered_set<std::string> seen;
  for (const auto& e : entries) {
    if (std::string problem = state_name_problem(e.name); !problem.empty()) refuse(problem);
    if (!seen.insert(e.name).second) refuse(fmt::format("the name '{}' appears twice", e.name));
    if (!e.value.defined()) refuse(fmt::format("{} '{}' is an empty tensor", kind_name(e.kind), e.name));
  }
  detail::ByteWriter w;
  for (char c : magic) w.put(static_cast<std::uint8_t>(c));
  w.put(format_version);
  w.put(static_cast<std::uint32_t>(entries.size()));
  w.put(std::uint32_t{0});
  for (const auto& e : entries) {
    w.put_string(e.name);
    w.put(static_cast<std::uint8_t>(e.kind));
    w.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
    w.put(static_cast<std::uint8_t>(e.value.rank()));
    for (std::size_t d : e.value.shape().dims()) w.put(static_cast<std::uint64_t>(d));
    for (T v : e.value.values()) w.put(v);
  }
  w.put(detail::fnv1a(w.bytes.data(), w.bytes.size()));
  detail::write_atomically(path, w.bytes, "nn::save");
}

template <class T>
void load_into(ModuleT<T>& module, const std::string& path) {
  constexpr const char* who = "nn::load_into";
  std::vector<StateEntry<T>> targets;
  for (auto& [name, p] : module.named_parameters()) targets.push_back({name, StateKind::parameter, p});
  for (auto& [name, b] : module.named_buffers()) targets.push_back({name, StateKind::buffer, b});
  // What the model itself cannot take (no file would fit it).
  for (const auto& t : targets) {
    if (!t.value.defined())
      throw std::invalid_argument(
          fmt::format("{}: cannot load '{}' into the {}: its {} '{}' is an empty tensor", who, path,
                      module.type_name(), kind_name(t.kind), t.name));
    if (!t.value.is_leaf())
      throw std::invalid_argument(
          fmt::format("{}: cannot load '{}' into the {}: its {} '{}' was produced by an op (only leaves can "
                      "be loaded into)",
                      who, path, module.type_name(), kind_name(t.kind), t.name));
  }

  StateRead<T> file = read_state_as<T>(path, who);
  std::unordered_map<std::string, const StateEntry<T>*> by_name;
  for (const auto& e : file.entries) by_name.emplace(e.name, &e);
  std::vector<std::string> missing, extra, differences;
  std::unordered_set<std::string> wanted;
  for (const auto& t : targets) {
    wanted.insert(t.name);
    const auto it = by_name.find(t.name);
    if (it == by_name.end()) {
      missing.push_back(fmt::format("{} {}", t.name, t.value.shape().to_string()));
      continue;
    }
    const StateEntry<T>& e = *it->second;
    if (e.kind != t.kind)
      differences.push_back(fmt::format("'{}' is a {} in the file, a {} in the model", t.name,
                                        kind_name(e.kind), kind_name(t.kind)));
    if (!(e.value.shape() == t.value.shape()))
      differences.push_back(fmt::format("'{}' is {} in the file, {} in the model", t.name,
                                        e.value.shape().to_string(), t.value.shape().to_string()));
  }
  for (const auto& e : file.entries)
    if (!wanted.contains(e.name)) extra.push_back(fmt::format("{} {}", e.name, e.value.shape().to_string()));
  if (file.network)
    if (const auto* net = dynamic_cast<const NetworkT<T>*>(&module);
        net && differences.empty() && missing.empty())
      network_differences(*file.network, *net, differences);

  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back("missing from the file: " + listed(missing));
  if (!extra.empty()) problems.push_back("not in the model: " + listed(extra));
  if (!differences.empty()) problems.push_back(listed(differences));
  if (!problems.empty()) {
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    throw std::runtime_error(fmt::format("{}: '{}': the file does not fit the {} (nothing was loaded): {}",
                                         who, path, module.type_name(), why));
  }
  // Everything fits: only now is the model changed.
  for (auto& t : targets) {
    const auto from = by_name.at(t.name)->value.values();
    auto to = t.value.mutable_values();
    std::copy(from.begin(), from.end(), to.begin());
  }
}

template <class T>
std::vector<StateEntry<T>> read_state(const std::string& path) {
  return read_state_as<T>(path, "nn::read_state").entries;
}

template void save(const ModuleT<float>&, const std::string&);
template void save(const ModuleT<double>&, const std::string&);
template void load_into(ModuleT<float>&, const std::string&);
template void load_into(ModuleT<double>&, const std::string&);
template std::vector<StateEntry<float>> read_state(const std::string&);
template std::vector<StateEntry<double>> read_state(const std::string&);

}  // namespace nn
