// Looking inside: the tape is a plain data structure, so the graph behind a
// loss can be printed, counted and drawn. Then anomaly mode finds where a NaN
// was born.
//
// 1. A 2-3-1 tanh network's mean squared loss on a batch of 4: ad::describe
//    (one line per node in tape order), ad::graph_stats (counts, bytes,
//    FLOPs), ad::to_dot (Graphviz), rendered to SVG with `dot -Tsvg` when
//    Graphviz is installed.
// 2. ad::DetectAnomaly: log of a negative number gives NaN; with anomaly mode
//    on, the op that produced it throws ad::AnomalyError naming the op, its
//    input and the source line.
#include <cstdio>
#include <exception>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/graph.hpp>
#include <nn/nn.hpp>

#include "tour.hpp"

namespace {

void show_graph(const std::filesystem::path& out) {
  std::mt19937_64 rng(4);
  const nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}).name("X");
  const ad::Tensor Y = ad::Tensor::from({4, 1}, {0, 1, 1, 0}).name("Y");
  // forward_trace names each layer's tensors layer<L>/a and layer<L>/z (the
  // parameters are layer<L>/W and layer<L>/b), and to_dot draws each layer's
  // "layer<L>/..." nodes in one box.
  ad::Tensor loss = nn::mse_loss(net.forward_trace(X).z.back(), Y);
  loss.name("loss");
  loss.backward(/*retain_graph=*/true);  // keep the graph, with every node's gradient, for printing

  fmt::print("== the graph of C = 1/(2N) sum (f(x) - y)^2 for a 2-3-1 tanh network, N = 4 ==\n");
  fmt::print("{}\n", ad::describe(loss));
  fmt::print("== graph_stats ==\n{}\n", ad::graph_stats(loss));

  const auto dot_path = out / "inspect_graph.dot", svg_path = out / "inspect_graph.svg";
  std::ofstream(dot_path) << ad::to_dot(loss);
  tour::wrote(dot_path, "Graphviz DOT");
  if (tour::have_program("dot")) {
    const std::string command = fmt::format("dot -Tsvg '{}' -o '{}'", dot_path.string(), svg_path.string());
    if (std::system(command.c_str()) == 0)
      tour::wrote(svg_path, "the graph drawn by Graphviz");
    else
      fmt::print("  `{}` failed\n", command);
  } else {
    fmt::print(
        "  Graphviz's `dot` is not installed: `apt-get install graphviz`, then\n"
        "  dot -Tsvg {} -o {}\n",
        dot_path.string(), svg_path.string());
  }
}

void find_nan() {
  fmt::print("\n== anomaly mode: where does the NaN come from? ==\n");
  ad::Tape tape;
  ad::Var x = 0.5, y = 2.0;
  {
    // Without anomaly mode the NaN just flows through to the result.
    const ad::Var f = ad::log(x - y) * y + x;
    fmt::print(
        "without anomaly mode: f = log(x - y) y + x = {} at x = 0.5, y = 2 (no hint where it came from)\n",
        f.value());
  }
  try {
    ad::DetectAnomaly detect;  // every op on this thread is checked while it lives
    const ad::Var f = ad::log(x - y) * y + x;
    fmt::print("not reached: {}\n", f.value());
  } catch (const ad::AnomalyError& e) {
    fmt::print("with ad::DetectAnomaly, the first op that produced a NaN throws ad::AnomalyError:\n  {}\n",
               e.what());
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  show_graph(args.out_dir());
  find_nan();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "inspect: %s\n", e.what());
  return 1;
}
