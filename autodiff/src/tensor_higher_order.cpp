// The recorded reverse sweep for tensors (ad::gradient_recorded): the same
// walk down the tape as TensorTape::backward(), but each op's gradient is
// computed by its graph lambda with tensor ops, which record themselves, so
// the gradients that come out can be differentiated again.
#include <algorithm>
#include <unordered_map>

#include <autodiff/tensor_higher_order.hpp>
#include <autodiff/tensor_ops.hpp>

#include "tensor_record.hpp"
#include "thread_state.hpp"

namespace ad {
namespace detail {

void throw_no_second_derivative(std::string_view op, std::string_view why) {
  throw std::logic_error(
      fmt::format("ad::gradient_recorded: the op '{}' has no recorded backward ({}); second derivatives "
                  "through it are not "
                  "available",
                  op, why));
}

template <class T>
TensorT<T> sum_to(const TensorT<T>& g, const Shape& shape) {
  const Shape& gs = g.shape();
  if (gs == shape) return g;
  if (gs.rank() < shape.rank())
    throw std::logic_error(
        fmt::format("ad::sum_to: cannot sum a gradient of shape {} to the larger rank of {}", gs.to_string(),
                    shape.to_string()));
  const std::size_t lead = gs.rank() - shape.rank();
  std::vector<std::int64_t> axes;
  for (std::size_t a = 0; a < gs.rank(); ++a)
    if (a < lead || (shape[a - lead] == 1 && gs[a] != 1)) axes.push_back(static_cast<std::int64_t>(a));
  const TensorT<T> summed = axes.empty() ? g : sum(g, axes, true, std::source_location{});
  return reshape(summed, shape, std::source_location{});
}

template <class T>
TensorT<T> expand_reduced(const TensorT<T>& g, const Shape& shape,
                          const std::array<bool, Shape::max_rank>& reduced) {
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t a = 0; a < shape.rank(); ++a) dims[a] = reduced[a] ? 1 : shape[a];
  const Shape kept(std::span<const std::size_t>(dims.data(), shape.rank()), "expand_reduced");
  const TensorT<T> g_kept = g.shape() == kept ? g : reshape(g, kept, std::source_location{});
  if (kept == shape) return g_kept;
  return add(g_kept, TensorT<T>::zeros(shape), std::source_location{});
}

template TensorT<float> sum_to(const TensorT<float>&, const Shape&);
template TensorT<double> sum_to(const TensorT<double>&, const Shape&);
template TensorT<float> expand_reduced(const TensorT<float>&, const Shape&,
                                       const std::array<bool, Shape::max_rank>&);
template TensorT<double> expand_reduced(const TensorT<double>&, const Shape&,
                                        const std::array<bool, Shape::max_rank>&);

}  // namespace detail

template <class T>
std::vector<TensorT<T>> gradient_recorded(const TensorT<T>& y, const std::vector<TensorT<T>>& xs,
                                          const TensorT<T>& seed) {
  const detail::TensorImpl<T>& root = detail::impl_of(y);
  for (const TensorT<T>& x : xs)
    if (!x.defined() || !x.requires_grad_enabled())
      throw std::invalid_argument(fmt::format(
          "ad::gradient_recorded: an input{} does not require grad; mark it with requires_grad(true) before "
          "computing with it",
          x.defined() && !x.name().empty() ? fmt::format(" ('{}')", x.name()) : std::string()));
  TensorT<T> root_grad = seed;
  if (!root_grad.defined()) {
    if (root.shape.numel() != 1)
      throw std::invalid_argument(fmt::format(
          "ad::gradient_recorded: the output has shape {}; without a seed it must have one element",
          root.shape.to_string()));
    root_grad = TensorT<T>::ones(root.shape);
  } else if (!(root_grad.shape() == root.shape)) {
    throw std::invalid_argument(
        fmt::format("ad::gradient_recorded: the seed has shape {} but the output has shape {}",
                    root_grad.shape().to_string(), root.shape.to_string()));
  }
  detail::check_recorded_here(root, "ad::gradient_recorded");
  if (root.stale)
    throw std::logic_error(
        "ad::gradient_recorded: the output's tape was cleared or destroyed; its history is gone");
  if (root.graph_released)
    throw std::logic_error(
        "ad::gradient_recorded: the output's graph was released by an earlier backward(); call "
        "backward(true) to "
        "keep it");

  struct Pending {
    std::shared_ptr<detail::TensorImpl<T>> impl;
    TensorT<T> grad;
  };
  // The gradients so far: of the tensors recorded on the root's tape by slot
  // (the walk below visits each slot once, and a vector needs no hashing or
  // allocation per entry), of anything else (leaves) by address.
  const bool recorded = root.requires_grad && root.node != nullptr;
  detail::TensorTape* const tape = recorded ? root.tape : nullptr;
  std::vector<Pending> by_slot(recorded ? root.slot + 1 : 0);
  std::unordered_map<const detail::TensorImplBase*, Pending> others;
  auto pending = [&](const detail::TensorImplBase& t) -> Pending& {
    if (tape != nullptr && t.node != nullptr && t.tape == tape && t.slot < by_slot.size())
      return by_slot[t.slot];
    return others[&t];
  };
  pending(root) = Pending{detail::impl_ptr_of(y), root_grad};

  if (recorded) {
    const detail::TensorTape::Pin pin(*tape);  // our own ops append to this tape: keep slot numbers
    // Tape order is topological: by the time slot s is reached, every op that
    // used its tensor has added its gradient.
    for (std::size_t s = root.slot + 1; s-- > 0;) {
      detail::TensorImplBase* t = tape->records()[s];
      if (t == nullptr || !by_slot[s].grad.defined()) continue;
      auto& node = static_cast<detail::TypedNode<T>&>(*t->node);
      const TensorT<T> output = detail::tensor_of(by_slot[s].impl);
      const TensorT<T> g = by_slot[s].grad;
      node.check_saved_versions();
      const detail::Gradients<T> gin = node.backward_graph(output, g);
      for (std::size_t k = 0; k < node.inputs.size() && k < gin.size(); ++k) {
        const auto& input = node.inputs[k];
        if (!gin[k].defined() || !input->requires_grad) continue;
        if (!(gin[k].shape() == input->shape))
          throw std::logic_error(
              fmt::format("ad::gradient_recorded: the recorded backward of '{}' gave input {} a gradient of "
                          "shape {} for shape {}",
                          node.op, k, gin[k].shape().to_string(), input->shape.to_string()));
        if (input->graph_released)
          throw std::logic_error(
              fmt::format("ad::gradient_recorded: a gradient reached a tensor ({}{}) whose graph an earlier "
                          "backward() released; "
                          "call backward(retain_graph = true) the first time, or detach() it",
                          input->name.empty() ? "unnamed" : input->name, input->shape.to_string()));
        Pending& entry = pending(*input);
        if (!entry.grad.defined())
          entry = Pending{std::static_pointer_cast<detail::TensorImpl<T>>(input), gin[k]};
        else
          entry.grad = add(entry.grad, gin[k], std::source_location{});
      }
    }
  }

  std::vector<TensorT<T>> result;
  result.reserve(xs.size());
  for (const TensorT<T>& x : xs) {
    const Pending& found = pending(detail::impl_of(x));
    result.push_back(found.grad.defined() ? found.grad : TensorT<T>::zeros(x.shape()));
  }
  return result;
}

namespace detail {

template <class T>
void backward_seeded(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& seeds) {
  if (roots.size() != seeds.size())
    throw std::invalid_argument(
        fmt::format("ad::backward: {} seeds for {} roots", seeds.size(), roots.size()));
  std::vector<TensorImplBase*> recorded;
  TensorTape* tape = nullptr;
  for (std::size_t k = 0; k < roots.size(); ++k) {
    TensorImpl<T>& r = detail::impl_of(roots[k]);
    check_recorded_here(r, "ad::backward");
    const auto seed = seeds[k].values();
    if (!(seeds[k].shape() == r.shape))
      throw std::invalid_argument(fmt::format("ad::backward: seed {} has shape {} for a root of shape {}", k,
                                              seeds[k].shape().to_string(), r.shape.to_string()));
    if (!r.requires_grad || r.stale || r.graph_released)
      throw std::logic_error(
          fmt::format("ad::backward: root {} ('{}' {}) has no graph to sweep (it does not require grad, its "
                      "tape was cleared, "
                      "or an earlier backward() released it)",
                      k, r.name, r.shape.to_string()));
    std::vector<T>& g = r.grad_buffer();
    const bool first = std::find(recorded.begin(), recorded.end(), &r) == recorded.end();
    if (r.is_leaf() || !first) {  // leaves accumulate; a root listed twice gets the sum of its seeds
      for (std::size_t i = 0; i < g.size(); ++i) g[i] += seed[i];
      continue;
    }
    if (tape != nullptr && r.tape != tape)
      throw std::logic_error("ad::backward: the roots were recorded on different tapes");
    tape = r.tape;
    std::copy(seed.begin(), seed.end(), g.begin());  // a recorded root starts from its seed alone
    recorded.push_back(&r);
  }
  if (tape != nullptr) tape->backward(recorded, /*retain_graph=*/false);
}

template void backward_seeded(const std::vector<TensorT<float>>&, const std::vector<TensorT<float>>&);
template void backward_seeded(const std::vector<TensorT<double>>&, const std::vector<TensorT<double>>&);

}  // namespace detail

template std::vector<TensorT<float>> gradient_recorded(const TensorT<float>&,
                                                       const std::vector<TensorT<float>>&,
                                                       const TensorT<float>&);
template std::vector<TensorT<double>> gradient_recorded(const TensorT<double>&,
                                                        const std::vector<TensorT<double>>&,
                                                        const TensorT<double>&);

}  // namespace ad
