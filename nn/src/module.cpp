#include <nn/module.hpp>

#include <stdexcept>

#include <fmt/format.h>

namespace nn {

template <class T>
void ModuleT<T>::add_entry(std::string name, Kind kind, std::ptrdiff_t offset,
                           std::shared_ptr<ModuleT> owned) {
  // Names are path components: a '.' would make "a.b" ambiguous, and an
  // empty name would make two paths equal.
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(fmt::format(
        "nn::Module::register: invalid name '{}' in a {} (non-empty, no '.')", name, type_name()));
  for (const Entry& e : entries_)
    if (e.name == name)
      throw std::invalid_argument(
          fmt::format("nn::Module::register: '{}' is registered twice in a {}", name, type_name()));
  entries_.push_back(Entry{std::move(name), kind, offset, std::move(owned)});
}

template <class T>
typename ModuleT<T>::Tensor& ModuleT<T>::register_parameter(std::string name, Tensor& member) {
  add_entry(name, Kind::parameter, offset_of(&member), nullptr);
  if (!member.requires_grad_enabled()) member.requires_grad(true);
  return member;
}

template <class T>
typename ModuleT<T>::Tensor& ModuleT<T>::register_buffer(std::string name, Tensor& member) {
  add_entry(std::move(name), Kind::buffer, offset_of(&member), nullptr);
  return member;
}

template <class T>
ModuleT<T>& ModuleT<T>::add_module(std::string name, std::unique_ptr<ModuleT> child) {
  if (!child) throw std::invalid_argument(fmt::format("nn::Module::add_module: '{}' is a null module", name));
  ModuleT& ref = *child;
  add_entry(std::move(name), Kind::owned_module, 0, std::shared_ptr<ModuleT>(std::move(child)));
  return ref;
}

template <class T>
void ModuleT<T>::collect_children(Named<ModuleT*>& out) {
  for (const Entry& e : entries_) {
    if (e.kind == Kind::member_module) out.emplace_back(e.name, at_offset<ModuleT>(e.offset));
    if (e.kind == Kind::owned_module) out.emplace_back(e.name, e.owned.get());
  }
}

template <class T>
void ModuleT<T>::collect_parameters(Named<Tensor>& out) const {
  for (const Entry& e : entries_)
    if (e.kind == Kind::parameter) out.emplace_back(e.name, *at_offset<Tensor>(e.offset));
}

template <class T>
void ModuleT<T>::collect_buffers(Named<Tensor>& out) const {
  for (const Entry& e : entries_)
    if (e.kind == Kind::buffer) out.emplace_back(e.name, *at_offset<Tensor>(e.offset));
}

template <class T>
typename ModuleT<T>::template Named<ModuleT<T>*> ModuleT<T>::named_children() {
  Named<ModuleT*> out;
  collect_children(out);
  return out;
}

template <class T>
typename ModuleT<T>::template Named<const ModuleT<T>*> ModuleT<T>::named_children() const {
  Named<ModuleT*> children;
  // collect_children does not modify the module; it is non-const only so
  // that it can hand out mutable children.
  const_cast<ModuleT*>(this)->collect_children(children);
  return Named<const ModuleT*>(children.begin(), children.end());
}

template <class T>
std::string ModuleT<T>::architecture() const {
  const auto children = named_children();
  if (children.empty()) return type_name();
  std::string out = type_name() + "(";
  for (std::size_t k = 0; k < children.size(); ++k)
    out += (k > 0 ? ", " : "") + children[k].first + ": " + children[k].second->architecture();
  return out + ")";
}

namespace {

// Depth first: the module's own items, then each child's under "child.".
template <class T, class Collect>
void walk(const ModuleT<T>& m, const std::string& prefix,
          typename ModuleT<T>::template Named<ad::TensorT<T>>& out, Collect collect) {
  typename ModuleT<T>::template Named<ad::TensorT<T>> own;
  collect(m, own);
  for (auto& [name, tensor] : own) out.emplace_back(prefix + name, std::move(tensor));
  for (const auto& [name, child] : m.named_children()) walk(*child, prefix + name + ".", out, collect);
}

}  // namespace

template <class T>
typename ModuleT<T>::template Named<typename ModuleT<T>::Tensor> ModuleT<T>::named_parameters() const {
  Named<Tensor> out;
  walk<T>(*this, "", out, [](const ModuleT& m, Named<Tensor>& own) { m.collect_parameters(own); });
  return out;
}

template <class T>
std::vector<typename ModuleT<T>::Tensor> ModuleT<T>::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(std::move(p));
  return out;
}

template <class T>
typename ModuleT<T>::template Named<typename ModuleT<T>::Tensor> ModuleT<T>::named_buffers() const {
  Named<Tensor> out;
  walk<T>(*this, "", out, [](const ModuleT& m, Named<Tensor>& own) { m.collect_buffers(own); });
  return out;
}

template <class T>
typename ModuleT<T>::template Named<ModuleT<T>*> ModuleT<T>::named_modules() {
  Named<ModuleT*> out{{"", this}};
  for (std::size_t i = 0; i < out.size(); ++i) {
    // Breadth would reorder; insert each module's children right after it.
    Named<ModuleT*> children = out[i].second->named_children();
    const std::string prefix = out[i].first.empty() ? "" : out[i].first + ".";
    std::size_t at = i + 1;
    for (auto& [name, child] : children) out.insert(out.begin() + at++, {prefix + name, child});
  }
  return out;
}

template <class T>
void ModuleT<T>::train(bool on) {
  for (auto& [name, m] : named_modules()) {
    m->training_ = on;
    m->on_mode_change();
  }
}

template <class T>
std::size_t ModuleT<T>::parameter_count() const {
  std::size_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

template class ModuleT<float>;
template class ModuleT<double>;

}  // namespace nn
