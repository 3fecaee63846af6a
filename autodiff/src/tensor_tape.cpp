#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include <autodiff/tensor_tape.hpp>

namespace ad::detail {

TensorImplBase::~TensorImplBase() {
  if (tape != nullptr) tape->forget(*this);
}

TensorTape::~TensorTape() { clear(); }

void TensorTape::record(TensorImplBase& output) {
  if (slots_.size() >= compact_at_ && pinned_ == 0) compact();
  output.tape = this;
  output.slot = slots_.size();
  slots_.push_back(&output);
}

void TensorTape::compact() {
  std::size_t live = 0;
  for (TensorImplBase* t : slots_) {
    if (t == nullptr) continue;
    t->slot = live;
    slots_[live++] = t;
  }
  slots_.resize(live);
  // Amortised O(1) per record: the next compaction waits until the tape has
  // doubled past what is alive now.
  compact_at_ = std::max<std::size_t>(1024, 2 * live);
}

std::size_t TensorTape::live_nodes() const noexcept {
  std::size_t n = 0;
  for (const TensorImplBase* t : slots_) n += t != nullptr;
  return n;
}

void TensorTape::clear() noexcept {
  // As in backward(): detach everything before any node (and what only it
  // references) is freed.
  std::vector<std::unique_ptr<TensorNode>> released;
  for (TensorImplBase* t : slots_) {
    if (t == nullptr) continue;
    t->tape = nullptr;
    t->stale = true;
    released.push_back(std::move(t->node));
  }
  slots_.clear();
  compact_at_ = 1024;
}

void TensorTape::backward(TensorImplBase& root, bool retain_graph) {
  TensorImplBase* const roots[] = {&root};
  backward(roots, retain_graph);
}

void TensorTape::backward(std::span<TensorImplBase* const> roots, bool retain_graph) {
  std::size_t top = 0;
  for (TensorImplBase* r : roots) {
    if (r->tape != this)
      throw std::logic_error("ad::Tensor::backward: the tensor is not recorded on this tape");
    top = std::max(top, r->slot);
  }
  auto is_root = [&](const TensorImplBase* t) {
    return std::find(roots.begin(), roots.end(), t) != roots.end();
  };
  // Gradients that an earlier sweep with retain_graph left on recorded
  // tensors would be pushed on a second time: each sweep starts them from
  // zero (only leaves accumulate across sweeps).
  for (std::size_t s = 0; s < top; ++s)
    if (TensorImplBase* t = slots_[s]; t != nullptr && !is_root(t)) t->free_grad();
  // Tape order is a topological order: by the time slot s is reached, every
  // op that used its tensor (all recorded later) has added its share to the
  // tensor's gradient.
  std::vector<TensorImplBase*> swept;
  for (std::size_t s = top + 1; s-- > 0;) {
    TensorImplBase* t = slots_[s];
    if (t == nullptr || !t->has_grad()) continue;  // dead, or no path to the root
    t->node->check_saved_versions();
    t->node->backward(*t);
    if (anomaly_depth > 0) [[unlikely]]
      check_backward_anomaly(*t);
    swept.push_back(t);
    if (!retain_graph && !is_root(t)) t->free_grad();  // intermediate gradients are not kept
  }
  for (TensorImplBase* t : swept) {
    for (const auto& input : t->node->inputs)
      if (input->graph_released && input->has_grad())
        throw std::logic_error(fmt::format(
            "ad::Tensor::backward: a gradient reached a tensor ({}{}) whose graph an earlier backward() "
            "released; call backward(retain_graph = true) the first time, or detach() it",
            input->name.empty() ? "unnamed" : input->name, input->shape.to_string()));
  }
  if (retain_graph) return;
  // Freeing a node can free tensors that only it referenced, some of them in
  // `swept`: take every node out first, free them all at the end.
  std::vector<std::unique_ptr<TensorNode>> released;
  released.reserve(swept.size());
  for (TensorImplBase* t : swept) {
    slots_[t->slot] = nullptr;
    t->tape = nullptr;
    t->graph_released = true;
    released.push_back(std::move(t->node));
  }
  trim();
}

namespace {
thread_local TensorTape default_tape;
}

TensorTape* current_tensor_tape() {
  if (no_grad_depth > 0) return nullptr;
  if (Tape* t = Tape::active(); t != nullptr) return &t->tensor_tape();
  return &default_tape;
}

}  // namespace ad::detail
