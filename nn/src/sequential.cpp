#include <nn/sequential.hpp>

#include <stdexcept>
#include <string>
#include <typeinfo>

#include <fmt/format.h>

namespace nn {

template <class T>
SequentialT<T>& SequentialT<T>::add(std::unique_ptr<ModuleT<T>> module) {
  return add(std::to_string(size()), std::move(module));
}

template <class T>
SequentialT<T>& SequentialT<T>::add(std::string name, std::unique_ptr<ModuleT<T>> module) {
  if (!module) throw std::invalid_argument(fmt::format("nn::Sequential::add: module '{}' is null", name));
  if (module.get() == this)
    throw std::invalid_argument(fmt::format("nn::Sequential::add: module '{}' is the sequence itself", name));
  this->add_module(std::move(name), std::move(module));
  return *this;
}

template <class T>
ModuleT<T>& SequentialT<T>::operator[](std::size_t i) {
  auto children = this->named_children();
  if (i >= children.size())
    throw std::out_of_range(fmt::format(
        "nn::Sequential: index {} is past the end of a sequence of {} modules", i, children.size()));
  return *children[i].second;
}

template <class T>
const ModuleT<T>& SequentialT<T>::operator[](std::size_t i) const {
  return const_cast<SequentialT&>(*this)[i];
}

template <class T>
typename SequentialT<T>::Tensor SequentialT<T>::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [name, module] : this->named_children()) {
    // Which module of a long chain refused its input is the first thing a
    // reader needs; the module's own message says why.
    try {
      y = module->forward(y);
    } catch (const std::invalid_argument& e) {
      if (typeid(e) != typeid(std::invalid_argument)) throw;  // a subclass keeps its type, unprefixed
      throw std::invalid_argument(
          fmt::format("nn::Sequential: module {} ({}): {}", name, module->type_name(), e.what()));
    } catch (const std::runtime_error& e) {
      if (typeid(e) != typeid(std::runtime_error)) throw;
      throw std::runtime_error(
          fmt::format("nn::Sequential: module {} ({}): {}", name, module->type_name(), e.what()));
    }
  }
  return y;
}

template class SequentialT<float>;
template class SequentialT<double>;

}  // namespace nn
