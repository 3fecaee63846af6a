// nn::SequentialT<T>: modules applied one after the other,
// f = m_k o ... o m_1, holding modules of any kind (PyTorch's nn.Sequential).
//
//   nn::Sequential model;
//   model.add<Residual>(8, rng)                                    // built in place
//        .add<nn::Dense>(8, 1, nn::Activation::identity, rng);
//   model.named_parameters();   // "0.fc1.W", "0.fc1.b", ..., "1.W", "1.b"
//   ad::Tensor y = model(X);
//
// The sequence owns its modules; children are named by position ("0", "1",
// ...) unless added under a name of their own. Copying a Sequential shares
// its modules (and so their parameters), as copying a tensor shares storage.
// An empty Sequential is the identity.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>

namespace nn {

template <class T>
class SequentialT : public ModuleT<T> {
 public:
  using Tensor = ad::TensorT<T>;

  SequentialT() = default;

  // Constructs an M from `args` at the end of the sequence, named by its
  // position. Returns the sequence, so calls chain.
  template <class M, class... Args>
  SequentialT& add(Args&&... args) {
    static_assert(std::is_base_of_v<ModuleT<T>, M>,
                  "nn::Sequential::add<M>: M is not an nn::Module of this element type");
    return add(std::make_unique<M>(std::forward<Args>(args)...));
  }
  // Moves a module in (nn::Dense(...), a user module by value).
  template <class M>
    requires std::is_base_of_v<ModuleT<T>, std::remove_cvref_t<M>> && (!std::is_lvalue_reference_v<M>)
  SequentialT& add(M&& module) {
    return add(std::make_unique<std::remove_cvref_t<M>>(std::move(module)));
  }
  // Takes ownership of `module`, named by its position or by `name` (no '.',
  // not used yet in this sequence; std::invalid_argument otherwise, and for
  // a null module).
  SequentialT& add(std::unique_ptr<ModuleT<T>> module);
  SequentialT& add(std::string name, std::unique_ptr<ModuleT<T>> module);

  // The number of modules, and the i-th (std::out_of_range past the end).
  std::size_t size() const { return this->named_children().size(); }
  bool empty() const { return size() == 0; }
  ModuleT<T>& operator[](std::size_t i);
  const ModuleT<T>& operator[](std::size_t i) const;

  // x through every module in order. An error inside a module is rethrown
  // with the module's name and kind in front ("nn::Sequential: module 1
  // (Dense): ...") when it is a std::invalid_argument or std::runtime_error
  // (other exception types, subclasses included, pass through unchanged).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

using Sequential = SequentialT<double>;
using SequentialF = SequentialT<float>;

extern template class SequentialT<float>;
extern template class SequentialT<double>;

}  // namespace nn
