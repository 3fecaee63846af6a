// Checkpoints of any module (format versions 3 and 4): the model as named
// tensors, so nn::fit resumes any model, not only an nn::Network; version 4
// adds the architecture, the optimiser's group rates and step counts, and the
// schedule's state.
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <nn/checkpoint.hpp>

#include "binary_io.hpp"
#include "training_state_rules.hpp"

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'C', 'K'};
constexpr std::uint32_t module_version = 4;
enum : std::uint8_t { parameter_kind = 0, buffer_kind = 1 };

void put_doubles(detail::ByteWriter& e, const std::vector<double>& v) {
  e.put(static_cast<std::uint64_t>(v.size()));
  for (double x : v) e.put(x);
}
std::vector<double> get_doubles(detail::ByteReader& d, const char* what) {
  std::vector<double> v(static_cast<std::size_t>(d.get_count(sizeof(double), what)));
  for (double& x : v) x = d.get<double>(what);
  return v;
}

template <class T>
struct NamedTensor {
  std::string name;
  std::uint8_t kind;
  std::vector<std::size_t> dims;
  std::vector<T> values;
};

template <class T>
std::vector<NamedTensor<T>> model_tensors(const ModuleT<T>& model) {
  std::vector<NamedTensor<T>> out;
  auto add = [&](const std::string& name, std::uint8_t kind, const ad::TensorT<T>& t) {
    const auto v = t.values();
    out.push_back(
        {name, kind, std::vector<std::size_t>(t.shape().begin(), t.shape().end()), {v.begin(), v.end()}});
  };
  for (const auto& [name, t] : model.named_parameters()) add(name, parameter_kind, t);
  for (const auto& [name, t] : model.named_buffers()) add(name, buffer_kind, t);
  return out;
}

std::string dims_text(const std::vector<std::size_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// "the checkpoint was saved from <a>, the model is <b>", whole when short;
// otherwise 80 characters of each from the start of the first differing
// part: the named child ("layer12: Dense(...)") holding the first differing
// character.
std::string architecture_mismatch(const std::string& saved, const std::string& present) {
  constexpr std::size_t short_enough = 160, excerpt = 80;
  if (saved.size() + present.size() <= short_enough)
    return fmt::format("the checkpoint was saved from {}, the model is {}", saved, present);
  std::size_t at = 0;
  while (at < saved.size() && at < present.size() && saved[at] == present[at]) ++at;
  std::size_t from = 0;
  if (const std::size_t name_end = saved.rfind(": ", at); name_end != std::string::npos && name_end > 0) {
    const std::size_t before = saved.find_last_of("(,", name_end - 1);
    from = before == std::string::npos ? 0 : before + 1;
    while (from < at && saved[from] == ' ') ++from;
  }
  auto cut = [&](const std::string& s) {
    return fmt::format("{}{}{}", from > 0 ? "..." : "", s.substr(from, excerpt),
                       from + excerpt < s.size() ? "..." : "");
  };
  return fmt::format(
      "the checkpoint was saved from a model that differs at character {}: {}, the model has {}", at,
      cut(saved), cut(present));
}

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const ModuleT<T>& model, const Optimizer<T>& optimizer,
                     const TrainingState& state) {
  if (const std::string problem = detail::training_state_problem(state); !problem.empty())
    throw std::invalid_argument(fmt::format("nn::save_checkpoint: not saving to '{}': {}", path, problem));
  detail::ByteWriter e;
  for (char c : magic) e.put(static_cast<std::uint8_t>(c));
  e.put(module_version);
  e.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
  for (int i = 0; i < 3; ++i) e.put(std::uint8_t{0});
  e.put_string(model.architecture());
  const std::vector<NamedTensor<T>> tensors = model_tensors(model);
  e.put(static_cast<std::uint32_t>(tensors.size()));
  for (const NamedTensor<T>& t : tensors) {
    e.put_string(t.name);
    e.put(t.kind);
    e.put(static_cast<std::uint32_t>(t.dims.size()));
    for (std::size_t n : t.dims) e.put(static_cast<std::uint64_t>(n));
    for (T v : t.values) e.put(v);
  }
  const OptimizerState o = optimizer.state();
  e.put_string(o.kind);
  e.put(o.learning_rate);
  e.put(o.steps);
  e.put(static_cast<std::uint32_t>(o.buffers.size()));
  for (const auto& b : o.buffers) put_doubles(e, b);
  put_doubles(e, o.other_group_learning_rates);
  e.put(static_cast<std::uint64_t>(o.parameter_steps.size()));
  for (std::uint64_t n : o.parameter_steps) e.put(n);
  e.put(state.epoch);
  e.put_string(state.rng);
  e.put(static_cast<std::uint64_t>(state.order.size()));
  for (std::uint64_t i : state.order) e.put(i);
  e.put(state.best);
  e.put(state.epochs_without_improvement);
  put_doubles(e, state.loss);
  put_doubles(e, state.validation_loss);
  e.put_string(state.stop_reason);
  put_doubles(e, state.accuracy);
  put_doubles(e, state.validation_accuracy);
  e.put(state.first_loss);
  e.put(state.best_loss);
  e.put(state.best_epoch);
  e.put(static_cast<std::uint32_t>(state.best_parameters.size()));
  for (const auto& b : state.best_parameters) put_doubles(e, b);
  e.put(static_cast<std::uint8_t>(state.schedule.has_value()));
  if (state.schedule) {
    const ScheduleState& s = *state.schedule;
    e.put_string(s.kind);
    e.put(s.steps);
    put_doubles(e, s.base_learning_rates);
    e.put(s.best);
    e.put(s.bad_steps);
    e.put(s.cooldown_left);
  }
  e.put(detail::fnv1a(e.bytes.data(), e.bytes.size()));
  detail::write_atomically(path, e.bytes, "nn::save_checkpoint");
}

template <class T>
TrainingState load_checkpoint(const std::string& path, ModuleT<T>& model, Optimizer<T>& optimizer) {
  detail::InputFile file(path, "nn::load_checkpoint");
  // The header first: a file that is not a checkpoint is refused after 8
  // bytes, whatever its size; the rest is read up to the file's size.
  std::vector<std::uint8_t> bytes;
  file.append(bytes, 8);
  detail::ByteReader header(bytes, bytes.size(), path, "nn::load_checkpoint");
  for (char c : magic)
    if (header.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      header.fail("not a checkpoint file (wrong magic bytes)");
  const auto version = header.get<std::uint32_t>("the version");
  if (version == 1 || version == 2) {  // an nn::Network's checkpoint, from before version 3
    if (auto* net = dynamic_cast<NetworkT<T>*>(&model)) return load_checkpoint(path, *net, optimizer);
    header.fail(
        fmt::format("a version {} checkpoint holds an nn::Network, not a {}", version, model.type_name()));
  }
  if (version != 3 && version != module_version)
    header.fail(fmt::format("format version {} is not supported (this build reads versions 1 to {})", version,
                            module_version));
  file.append(bytes, static_cast<std::size_t>(file.size()));
  if (bytes.size() < 24) header.fail("truncated: no room for the checksum");
  std::uint64_t stored = 0;
  for (std::size_t i = 8; i-- > 0;) stored = (stored << 8) | bytes[bytes.size() - 8 + i];
  if (stored != detail::fnv1a(bytes.data(), bytes.size() - 8))
    header.fail("corrupt or truncated: the checksum does not match the contents");

  detail::ByteReader d(bytes, bytes.size() - 8, path, "nn::load_checkpoint");
  for (int i = 0; i < 8; ++i) d.get<std::uint8_t>("the header");
  const auto dtype = d.get<std::uint8_t>("the element type");
  const std::uint8_t expected_dtype = std::is_same_v<T, float> ? 0 : 1;
  if (dtype != expected_dtype)
    d.fail(fmt::format("saved with {} parameters, loading into a {} model",
                       dtype == 0   ? "float32"
                       : dtype == 1 ? "float64"
                                    : "unknown",
                       expected_dtype == 0 ? "float32" : "float64"));
  for (int i = 0; i < 3; ++i)
    if (d.get<std::uint8_t>("reserved bytes") != 0) d.fail("reserved header bytes are not zero");
  const std::string architecture = version >= 4 ? d.get_string("the architecture") : std::string();

  // The model, checked name by name against the module's own tensors.
  const std::vector<NamedTensor<T>> present = model_tensors(model);
  const auto count = d.get<std::uint32_t>("the tensor count");
  std::vector<std::vector<T>> values(present.size());
  for (std::size_t k = 0; k < count; ++k) {
    const std::string name = d.get_string("a tensor name");
    const auto kind = d.get<std::uint8_t>("a tensor kind");
    const auto rank = d.get<std::uint32_t>("a tensor rank");
    if (rank > 8) d.fail(fmt::format("tensor '{}' has rank {}", name, rank));
    std::vector<std::size_t> dims(rank);
    for (std::size_t& n : dims) n = static_cast<std::size_t>(d.get<std::uint64_t>("a tensor shape"));
    const char* saved_kind = kind == parameter_kind ? "parameter" : "buffer";
    if (k >= present.size())
      d.fail(fmt::format("holds the {} '{}' {}, but the {} has only {} named tensors", saved_kind, name,
                         dims_text(dims), model.type_name(), present.size()));
    const NamedTensor<T>& want = present[k];
    if (name != want.name || kind != want.kind)
      d.fail(fmt::format("tensor {} is the {} '{}', the {}'s is the {} '{}'", k, saved_kind, name,
                         model.type_name(), want.kind == parameter_kind ? "parameter" : "buffer", want.name));
    if (dims != want.dims)
      d.fail(fmt::format("'{}' was saved with shape {}, the {}'s has shape {}", name, dims_text(dims),
                         model.type_name(), dims_text(want.dims)));
    values[k].resize(want.values.size());
    for (T& v : values[k]) v = d.get<T>("tensor values");
  }
  if (count < present.size())
    d.fail(fmt::format("holds {} named tensors; the {}'s '{}' is not among them", count, model.type_name(),
                       present[count].name));
  // The same names and shapes, but other activations would resume another model.
  if (version >= 4 && architecture != model.architecture())
    d.fail(architecture_mismatch(architecture, model.architecture()));

  OptimizerState o;
  o.kind = d.get_string("the optimiser kind");
  o.learning_rate = d.get<double>("the learning rate");
  o.steps = d.get<std::uint64_t>("the optimiser steps");
  const auto buffers = d.get<std::uint32_t>("the optimiser buffer count");
  for (std::uint32_t k = 0; k < buffers; ++k) o.buffers.push_back(get_doubles(d, "an optimiser buffer"));
  if (version >= 4) {
    o.other_group_learning_rates = get_doubles(d, "the group learning rates");
    o.parameter_steps.resize(
        static_cast<std::size_t>(d.get_count(sizeof(std::uint64_t), "the parameter step counts")));
    for (auto& n : o.parameter_steps) n = d.get<std::uint64_t>("the parameter step counts");
  }
  TrainingState state;
  state.epoch = d.get<std::uint64_t>("the epoch");
  state.rng = d.get_string("the RNG state");
  state.order.resize(static_cast<std::size_t>(d.get_count(sizeof(std::uint64_t), "the sample order length")));
  for (auto& i : state.order) i = d.get<std::uint64_t>("the sample order");
  state.best = d.get<double>("the best loss");
  state.epochs_without_improvement = d.get<std::uint64_t>("the epochs without improvement");
  state.loss = get_doubles(d, "the loss history");
  state.validation_loss = get_doubles(d, "the validation history");
  state.stop_reason = d.get_string("the stop reason");
  state.accuracy = get_doubles(d, "the accuracy history");
  state.validation_accuracy = get_doubles(d, "the validation accuracy history");
  state.first_loss = d.get<double>("the first loss");
  state.best_loss = d.get<double>("the best loss (restore)");
  state.best_epoch = d.get<std::uint64_t>("the best epoch");
  const auto best_count = d.get<std::uint32_t>("the best parameters count");
  if (best_count != 0 && best_count != model.named_parameters().size())
    d.fail(fmt::format("holds {} best parameters, the model has {}", best_count,
                       model.named_parameters().size()));
  for (std::uint32_t k = 0; k < best_count; ++k) {
    state.best_parameters.push_back(get_doubles(d, "the best parameters"));
    if (state.best_parameters.back().size() != present[k].values.size())
      d.fail(fmt::format("the best values of '{}' have {} entries, not {}", present[k].name,
                         state.best_parameters.back().size(), present[k].values.size()));
  }
  if (version >= 4) {
    const auto has_schedule = d.get<std::uint8_t>("the schedule flag");
    if (has_schedule > 1) d.fail(fmt::format("the schedule flag is {}, not 0 or 1", has_schedule));
    if (has_schedule == 1) {
      ScheduleState s;
      s.kind = d.get_string("the schedule kind");
      s.steps = d.get<std::uint64_t>("the schedule steps");
      s.base_learning_rates = get_doubles(d, "the schedule's base learning rates");
      s.best = d.get<double>("the schedule's best metric");
      s.bad_steps = d.get<std::uint64_t>("the schedule's bad steps");
      s.cooldown_left = d.get<std::uint64_t>("the schedule's cooldown");
      state.schedule = std::move(s);
    }
  }
  if (!d.at_end()) d.fail("unexpected bytes after the last field");
  if (const std::string problem = detail::training_state_problem(state); !problem.empty()) d.fail(problem);

  // Everything parsed and checked: only now touch the caller's model and optimiser.
  try {
    optimizer.load_state(o);
  } catch (const std::invalid_argument& e) {
    d.fail(fmt::format("the optimiser does not match: {}", e.what()));
  }
  const auto parameters = model.named_parameters();
  const auto model_buffers = model.named_buffers();
  for (std::size_t k = 0; k < present.size(); ++k) {
    ad::TensorT<T> t =
        k < parameters.size() ? parameters[k].second : model_buffers[k - parameters.size()].second;
    const std::span<T> v = t.mutable_values();
    std::copy(values[k].begin(), values[k].end(), v.begin());
  }
  return state;
}

template void save_checkpoint(const std::string&, const ModuleT<float>&, const Optimizer<float>&,
                              const TrainingState&);
template void save_checkpoint(const std::string&, const ModuleT<double>&, const Optimizer<double>&,
                              const TrainingState&);
template TrainingState load_checkpoint(const std::string&, ModuleT<float>&, Optimizer<float>&);
template TrainingState load_checkpoint(const std::string&, ModuleT<double>&, Optimizer<double>&);

}  // namespace nn
