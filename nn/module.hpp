// nn::ModuleT<T>: the interface every model piece implements (PyTorch's
// torch.nn.Module at our scale). A module has a forward, named parameters
// (the leaves training updates), optional named buffers (state that is saved
// but not trained, such as batch norm's running mean), children (modules it
// is built from), and a train/eval flag that children follow.
//
//   struct Residual : nn::Module {
//     nn::Dense fc1, fc2;
//     Residual(std::size_t n, std::mt19937_64& rng)
//         : fc1(n, n, nn::Activation::tanh, rng), fc2(n, n, nn::Activation::identity, rng) {
//       register_module("fc1", fc1);
//       register_module("fc2", fc2);
//     }
//     ad::Tensor forward(const ad::Tensor& x) override { return x + fc2(fc1(x)); }
//   };
//
// Names are hierarchical and stable: a parameter "W" of child "fc1" of child
// "0" is "0.fc1.W", in registration order (depth first). fit, check_gradients,
// save/load and checkpoints find everything through these names, so they work
// for any module, never for a particular layer type.
//
// Registration of members. register_module / register_parameter /
// register_buffer take a *member* of the module (a subobject of the same
// object) and remember where it lies relative to the module, not its address:
// a module copied or moved as its own type therefore finds its own members
// (copies share parameter storage, as copies of tensors do). Children that
// are not members (built at run time, e.g. by nn::Sequential) are handed
// over with add_module(name, std::unique_ptr) and owned by the module;
// a module whose children live in a container (nn::Network's layers)
// overrides collect_children instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

template <class T>
class ModuleT {
 public:
  using Tensor = ad::TensorT<T>;
  using value_type = T;
  template <class Item>
  using Named = std::vector<std::pair<std::string, Item>>;

  ModuleT() = default;
  virtual ~ModuleT() = default;
  // Copies keep the registrations of members (see above); owned children
  // (add_module) are shared between copies, as parameter storage is.
  ModuleT(const ModuleT&) = default;
  ModuleT& operator=(const ModuleT&) = default;
  ModuleT(ModuleT&&) noexcept = default;
  ModuleT& operator=(ModuleT&&) noexcept = default;

  // The module's computation. Parameters are leaves that require gradients,
  // so calling it records on the current tape like any tensor code.
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // A short name of the module's kind for printing ("Dense", "Sequential",
  // a user module's own name); defaults to "Module".
  virtual std::string type_name() const { return "Module"; }
  // What the module computes beyond its parameter shapes, as text that
  // checkpoints store and compare on resume (a model with other activations
  // is another model). The default is type_name(), followed by the
  // architecture of each child, "Sequential(0: Dense(...), 1: ...)"; a module
  // with settings of its own (nn::Dense's activations) adds them.
  virtual std::string architecture() const;

  // Every parameter of this module and its descendants, depth first in
  // registration order, with hierarchical names ("0.fc1.W"). The tensors are
  // handles that share the module's storage.
  Named<Tensor> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // The same for buffers (saved with the model, not trained).
  Named<Tensor> named_buffers() const;
  // Direct children with their names, and every descendant (depth first,
  // this module first with the name "").
  Named<ModuleT*> named_children();
  Named<const ModuleT*> named_children() const;
  Named<ModuleT*> named_modules();

  // Training mode (the default) or evaluation mode, for this module and
  // every descendant: dropout and batch norm behave differently.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }

  // The number of scalar parameters.
  std::size_t parameter_count() const;

 protected:
  // Registers a member module / tensor under `name` (no '.' in names; each
  // name once per module). A registered parameter becomes a leaf that
  // requires a gradient (its display name, for graphs, is left to the owner).
  // Returns the argument, so it can be used in member initialisers.
  template <class M>
  M& register_module(std::string name, M& member) {
    static_assert(std::is_base_of_v<ModuleT, M>, "register_module: not an nn::Module of this element type");
    add_entry(std::move(name), Kind::member_module, offset_of(&member), nullptr);
    return member;
  }
  Tensor& register_parameter(std::string name, Tensor& member);
  Tensor& register_buffer(std::string name, Tensor& member);
  // Takes ownership of a module that is not a member.
  ModuleT& add_module(std::string name, std::unique_ptr<ModuleT> child);

  // Appends (name, child) for every direct child. The default lists the
  // registered ones; override it for children held in a container, and call
  // the base version too if the module also registers some.
  virtual void collect_children(Named<ModuleT*>& out);
  // Appends this module's own parameters / buffers (not its children's).
  virtual void collect_parameters(Named<Tensor>& out) const;
  virtual void collect_buffers(Named<Tensor>& out) const;
  // Called by train(on) on every module after its flag changed.
  virtual void on_mode_change() {}

 private:
  enum class Kind : std::uint8_t { member_module, owned_module, parameter, buffer };
  struct Entry {
    std::string name;
    Kind kind;
    std::ptrdiff_t offset;           // member_*, parameter, buffer: where it lies relative to this
    std::shared_ptr<ModuleT> owned;  // owned_module
  };
  std::ptrdiff_t offset_of(const void* member) const noexcept {
    return reinterpret_cast<const char*>(member) - reinterpret_cast<const char*>(this);
  }
  template <class Item>
  Item* at_offset(std::ptrdiff_t offset) const noexcept {
    return reinterpret_cast<Item*>(const_cast<char*>(reinterpret_cast<const char*>(this)) + offset);
  }
  void add_entry(std::string name, Kind kind, std::ptrdiff_t offset, std::shared_ptr<ModuleT> owned);

  std::vector<Entry> entries_;
  bool training_ = true;
};

using Module = ModuleT<double>;
using ModuleF = ModuleT<float>;

extern template class ModuleT<float>;
extern template class ModuleT<double>;

}  // namespace nn
