// A small line/scatter plot written as SVG text: no plotting library, no
// dependency. Enough for loss curves, a fitted function and a 2-D decision
// boundary (a coloured field under a scatter).
//
//   tour::Plot p("training loss", "epoch", "loss");
//   p.log_y().line("SGD", epochs, sgd_loss).line("Adam", epochs, adam_loss);
//   p.write("loss.svg");
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tour {

inline constexpr const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

class Plot {
 public:
  Plot(std::string title, std::string x_label, std::string y_label)
      : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

  Plot& line(std::string label, std::vector<double> x, std::vector<double> y, std::string color = "") {
    add({std::move(label), std::move(x), std::move(y), std::move(color), false});
    return *this;
  }
  Plot& scatter(std::string label, std::vector<double> x, std::vector<double> y, std::string color = "") {
    add({std::move(label), std::move(x), std::move(y), std::move(color), true});
    return *this;
  }
  // A field of values in [0, 1] on an nx x ny grid over [x0, x1] x [y0, y1]
  // (row-major, y rows from y0 upwards), drawn under the series, blending
  // color_low (0) to color_high (1) through white at 0.5.
  Plot& field(std::size_t nx, std::size_t ny, double x0, double x1, double y0, double y1,
              std::vector<double> values, unsigned color_low = 0x1f77b4, unsigned color_high = 0xd62728) {
    if (values.size() != nx * ny) throw std::invalid_argument("tour::Plot::field: values must be nx * ny");
    field_ = {nx, ny, x0, x1, y0, y1, std::move(values), color_low, color_high};
    include(x0, y0);
    include(x1, y1);
    return *this;
  }
  // Fixes the frame instead of fitting it to the data.
  Plot& limits(double x0, double x1, double y0, double y1) {
    fixed_ = true;
    x_min_ = x0, x_max_ = x1, y_min_ = y0, y_max_ = y1;
    return *this;
  }
  // A logarithmic y axis (for losses); non-positive values are dropped.
  Plot& log_y() {
    log_y_ = true;
    return *this;
  }

  std::string svg(double width = 640, double height = 420) const {
    std::size_t longest_label = 0;
    for (const Series& series : series_) longest_label = std::max(longest_label, series.label.size());
    const double left = 70, right = longest_label ? 50 + 7.5 * double(longest_label) : 20, top = 40,
                 bottom = 50;
    const double pw = width - left - right, ph = height - top - bottom;
    double x_lo = x_min_, x_hi = x_max_, y_lo = transform(y_min_), y_hi = transform(y_max_);
    if (!(x_hi > x_lo)) x_hi = x_lo + 1;
    if (!(y_hi > y_lo)) y_hi = y_lo + 1;
    if (field_.values.empty() && !fixed_) {  // a margin around the data (a field or limits() fix the frame)
      const double dx = series_.size() && series_.front().points ? 0.05 * (x_hi - x_lo) : 0.0;
      const double dy = 0.05 * (y_hi - y_lo);
      x_lo -= dx, x_hi += dx, y_lo -= dy, y_hi += dy;
    }
    auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * pw; };
    auto py = [&](double y) { return top + (1.0 - (transform(y) - y_lo) / (y_hi - y_lo)) * ph; };

    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
        "fill=\"white\"/>\n",
        width, height);
    s += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
                     left + pw / 2, escape(title_));
    if (!field_.values.empty()) s += field_svg(px, py);
    // ticks and grid
    for (double t : ticks(x_lo, x_hi, false, std::max(3.0, pw / 75))) {
      s += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
          "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
          px(t), top, top + ph, top + ph + 16, label(t));
    }
    for (double t : ticks(y_lo, y_hi, log_y_, std::max(3.0, ph / 55))) {
      const double y = top + (1.0 - (t - y_lo) / (y_hi - y_lo)) * ph;
      s += fmt::format(
          "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
          left, y, left + pw, left - 6, y + 4, label(log_y_ ? std::pow(10.0, t) : t));
    }
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                     left, top, pw, ph);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, height - 12,
                     escape(x_label_));
    s += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n",
                     top + ph / 2, escape(y_label_), log_y_ ? " (log scale)" : "");
    // series, clipped to the frame
    s += fmt::format(
        "<clipPath id=\"{0}\"><rect x=\"{1}\" y=\"{2}\" width=\"{3}\" height=\"{4}\"/></clipPath>\n"
        "<g clip-path=\"url(#{0})\">\n",
        id_, left, top, pw, ph);
    for (const Series& series : series_) {
      if (series.points) {
        const double radius = series.x.size() <= 20 ? 6 : 2.5;  // a handful of points can be big
        for (std::size_t i = 0; i < series.x.size(); ++i)
          if (drawable(series.y[i]))
            s += fmt::format(
                "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" stroke=\"white\" "
                "stroke-width=\"0.5\"/>\n",
                px(series.x[i]), py(series.y[i]), radius, series.color);
      } else {
        // Long curves are thinned to about 1000 vertices (more than the pixels across).
        const std::size_t stride = std::max<std::size_t>(1, series.x.size() / 1000);
        std::string points;
        for (std::size_t i = 0; i < series.x.size(); ++i)
          if ((i % stride == 0 || i + 1 == series.x.size()) && drawable(series.y[i]))
            points += fmt::format("{:.1f},{:.1f} ", px(series.x[i]), py(series.y[i]));
        s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>\n",
                         points, series.color);
      }
    }
    s += "</g>\n";
    // legend
    std::size_t entry = 0;
    for (const Series& series : series_) {
      if (series.label.empty()) continue;  // unlabelled series stay out of the legend
      const double y = top + 10 + 20 * double(entry++);
      if (series.points)
        s +=
            fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/>", left + pw + 22, y, series.color);
      else
        s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>",
                         left + pw + 12, y, left + pw + 32, y, series.color);
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", left + pw + 38, y + 4, escape(series.label));
    }
    return s + "</svg>\n";
  }

  void write(const std::filesystem::path& path, double width = 640, double height = 420) const {
    std::ofstream out(path);
    out << svg(width, height);
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  }

 private:
  struct Series {
    std::string label;
    std::vector<double> x, y;
    std::string color;
    bool points;
  };
  struct Field {
    std::size_t nx = 0, ny = 0;
    double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    std::vector<double> values;
    unsigned low = 0, high = 0;
  };

  void add(Series series) {
    if (series.x.size() != series.y.size())
      throw std::invalid_argument("tour::Plot: x and y differ in length");
    if (series.color.empty()) series.color = palette[series_.size() % std::size(palette)];
    for (std::size_t i = 0; i < series.x.size(); ++i)
      if (drawable(series.y[i])) include(series.x[i], series.y[i]);
    series_.push_back(std::move(series));
  }
  void include(double x, double y) {
    if (fixed_) return;
    x_min_ = std::min(x_min_, x);
    x_max_ = std::max(x_max_, x);
    y_min_ = std::min(y_min_, y);
    y_max_ = std::max(y_max_, y);
  }
  bool drawable(double y) const { return std::isfinite(y) && (!log_y_ || y > 0); }
  double transform(double y) const { return log_y_ ? std::log10(y) : y; }

  // Tick positions: 1-2-5 steps (about `count` ticks), or whole decades on a log axis.
  static std::vector<double> ticks(double lo, double hi, bool decades, double count) {
    std::vector<double> t;
    double step = 1;
    if (!decades) {
      const double raw = (hi - lo) / count, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
      const double r = raw / magnitude;
      step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * magnitude;
    } else if (hi - lo <= 2.5) {  // few decades: 1, 2 and 5 times each power of ten
      for (double decade = std::floor(lo); decade <= hi; ++decade)
        for (double m : {1.0, 2.0, 5.0})
          if (const double v = decade + std::log10(m); v >= lo && v <= hi) t.push_back(v);
      return t;
    } else {
      step = std::max(1.0, std::ceil((hi - lo) / count));
    }
    for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step)
      t.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
    return t;
  }
  static std::string label(double v) {
    return v == std::round(v) && std::fabs(v) < 1e7 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
  }
  static std::string escape(const std::string& text) {
    std::string s;
    for (char c : text) s += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return s;
  }

  // One rect per run of equal colour along a row (the colours come in 12
  // steps per side, which keeps runs long and the file small).
  template <class PX, class PY>
  std::string field_svg(PX px, PY py) const {
    const Field& f = field_;
    auto colour = [&](double v) {
      v = std::clamp(v, 0.0, 1.0);
      const unsigned target = v < 0.5 ? f.low : f.high;
      const double strength = 0.55 * std::round(12 * std::fabs(2 * v - 1)) / 12;  // white at 0.5
      int rgb[3];
      for (int c = 0; c < 3; ++c)
        rgb[c] = int(std::lround(255 + strength * (double((target >> (16 - 8 * c)) & 0xff) - 255)));
      return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
    };
    std::string s = "<g shape-rendering=\"crispEdges\">\n";
    const double dx = (f.x1 - f.x0) / double(f.nx), dy = (f.y1 - f.y0) / double(f.ny);
    for (std::size_t j = 0; j < f.ny; ++j) {
      const double top = py(f.y0 + double(j + 1) * dy), height = py(f.y0 + double(j) * dy) - top + 0.5;
      for (std::size_t i = 0; i < f.nx;) {
        const std::string fill = colour(f.values[j * f.nx + i]);
        std::size_t end = i + 1;
        while (end < f.nx && colour(f.values[j * f.nx + end]) == fill) ++end;
        const double x = px(f.x0 + double(i) * dx);
        s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n",
                         x, top, px(f.x0 + double(end) * dx) - x + 0.5, height, fill);
        i = end;
      }
    }
    return s + "</g>\n";
  }

  std::string title_, x_label_, y_label_;
  std::vector<Series> series_;
  Field field_;
  bool log_y_ = false;
  bool fixed_ = false;
  // Unique per plot, so that panels combined into one file keep their own clip paths.
  std::string id_ = fmt::format("frame{}", next_id()++);
  static int& next_id() {
    static int id = 0;
    return id;
  }
  double x_min_ = std::numeric_limits<double>::infinity(), x_max_ = -std::numeric_limits<double>::infinity();
  double y_min_ = std::numeric_limits<double>::infinity(), y_max_ = -std::numeric_limits<double>::infinity();
};

// Several plots side by side in one SVG file, each `width` x `height`.
inline void write_panels(const std::filesystem::path& path, const std::vector<Plot>& panels, double width,
                         double height) {
  std::ofstream out(path);
  out << fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n",
      width * double(panels.size()), height);
  for (std::size_t k = 0; k < panels.size(); ++k) {
    std::string panel = panels[k].svg(width, height);
    panel.insert(4, fmt::format(" x=\"{}\"", width * double(k)));  // after "<svg"
    out << panel;
  }
  out << "</svg>\n";
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
}

}  // namespace tour
