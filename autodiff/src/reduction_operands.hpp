// Internal: the operands of a reduction node (ad::sum, ad::dot, ...) in
// operand order, whichever of its two layouts it was recorded in
// (detail::many_operands): a list kept beside the tape, with a partial per
// operand, or runs of consecutive nodes, which keep neither. For the sweeps
// that walk a reduction's operands one by one (the recorded backward, the
// Hessian-vector sweep); the first-order sweep has its own loops over runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <autodiff/detail/scalar_record.hpp>

namespace ad::detail {

class ReductionOperands {
 public:
  // `list` and `partials` are the tape's operand and partial lists; they are
  // read by index, so they may grow (not shrink) while this is in use.
  ReductionOperands(const Node& n, const std::vector<std::uint32_t>& list,
                    const std::vector<double>& partials)
      : list_(list), partials_(partials) {
    runs_ = (n.word & operand_mask << operand_bits) != 0;
    first_ = static_cast<std::size_t>(n.da);
    if (!runs_) {
      count_ = static_cast<std::size_t>(n.db);
    } else {
      run_starts_[0] = n.a();
      run_starts_[1] = n.op() == OpCode::dot ? n.b() : 0;
      count_ = n.op() == OpCode::dot ? 2 * first_ : first_;
    }
  }

  std::size_t count() const noexcept { return count_; }
  // The node id of operand i < count(). A dot's operands are x then y.
  std::uint32_t input(std::size_t i) const noexcept {
    if (!runs_) return list_[first_ + i];
    const std::size_t run_length = first_;
    return static_cast<std::uint32_t>(i < run_length ? run_starts_[0] + i
                                                     : run_starts_[1] + (i - run_length));
  }
  // The stored partial of operand i, which only the list form of sum and
  // dot_constant reads (a sum over runs has partials 1).
  double stored_partial(std::size_t i) const noexcept { return runs_ ? 1.0 : partials_[first_ + i]; }

 private:
  const std::vector<std::uint32_t>& list_;
  const std::vector<double>& partials_;
  bool runs_;
  std::size_t first_;  // list form: the offset of the first operand; runs: the run's length
  std::size_t count_;
  std::uint32_t run_starts_[2] = {0, 0};
};

}  // namespace ad::detail
