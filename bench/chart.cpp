// bench_chart: the suite's summary from its CSV rows
// (workload,dtype,threads,contestant,median,min,max,unit), as a side-by-side
// table on stdout and an SVG bar chart of our speed-up over the peer of each
// timed workload: speed-up = peer median / ours median (> 1: we are faster),
// drawn on a log scale around 1x. No dependencies beyond the standard library.
//
//   bench_chart RESULTS.csv [SPEEDUP.svg [SCALING.svg]]
// SCALING.svg: step cost against batch size and width (bench_mlp --scaling).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

struct Row {
  std::string workload, dtype, threads, contestant, unit;
  double median = NAN, min = NAN, max = NAN;
};

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  for (std::string field; std::getline(stream, field, ',');) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

double number(const std::string& text) {
  if (text.empty()) return NAN;
  try {
    return std::stod(text);
  } catch (...) {
    return NAN;
  }
}

std::vector<Row> read_rows(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<Row> rows;
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = split_csv_line(line);
    if (f.size() < 8 || f[0] == "workload") continue;  // headers (one per program that appended)
    rows.push_back({f[0], f[1], f[2], f[3], f[7], number(f[4]), number(f[5]), number(f[6])});
  }
  return rows;
}

// Rows measured together: the same workload, element type and threads.
using Key = std::tuple<std::string, std::string, std::string>;

struct Group {
  Key key;
  std::string unit;
  std::map<std::string, Row> by_contestant;
};

std::vector<Group> group_rows(const std::vector<Row>& rows) {
  std::vector<Group> groups;
  for (const Row& r : rows) {
    const Key key{r.workload, r.dtype, r.threads};
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
    if (it == groups.end()) {
      groups.push_back({key, r.unit, {}});
      it = groups.end() - 1;
    }
    it->by_contestant[r.contestant] = r;  // a later run of the same row wins
  }
  return groups;
}

// The peer a workload is compared against: LibTorch for tensor workloads;
// for the scalar ones the fastest of the tapes bench_scalar measured.
const Row* peer_of(const Group& g) {
  auto it = g.by_contestant.find("LibTorch");
  if (it != g.by_contestant.end() && std::isfinite(it->second.median)) return &it->second;
  const Row* best = nullptr;
  for (const char* name : {"ADOL-C", "CoDiPack", "Adept"}) {
    it = g.by_contestant.find(name);
    if (it != g.by_contestant.end() && std::isfinite(it->second.median) &&
        (!best || it->second.median < best->median))
      best = &it->second;
  }
  return best;
}

const Row* find(const Group& g, const std::string& name) {
  auto it = g.by_contestant.find(name);
  return it == g.by_contestant.end() || !std::isfinite(it->second.median) ? nullptr : &it->second;
}

std::string cell(const Row* r) {
  if (!r) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.4g", r->median);
  return text;
}

std::string label_of(const Group& g) {
  const auto& [workload, dtype, threads] = g.key;
  return workload + " " + dtype + " " + threads + "t";
}

void print_table(const std::vector<Group>& groups) {
  std::printf("%-34s %-10s %12s %12s %12s %-9s %9s %10s\n", "workload dtype threads", "unit", "ours", "peer",
              "floor", "peer is", "speed-up", "ours/floor");
  for (const Group& g : groups) {
    const Row* ours = find(g, "ours");
    const Row* peer = peer_of(g);
    const Row* floor = find(g, "floor");
    if (!floor) floor = find(g, "double");  // the scalar workloads' baseline
    std::string speedup = "-", over_floor = "-";
    char text[32];
    if (ours && peer) {
      std::snprintf(text, sizeof text, "%.2fx", peer->median / ours->median);
      speedup = text;
    }
    if (ours && floor) {
      std::snprintf(text, sizeof text, "%.2f", ours->median / floor->median);
      over_floor = text;
    }
    std::printf("%-34s %-10s %12s %12s %12s %-9s %9s %10s\n", label_of(g).c_str(), g.unit.c_str(),
                cell(ours).c_str(), cell(peer).c_str(), cell(floor).c_str(),
                peer ? peer->contestant.c_str() : "-", speedup.c_str(), over_floor.c_str());
  }
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

// Horizontal bars on a log10 axis: a bar grows right of the 1x line when we
// are faster (green) and left of it when slower (red).
void write_svg(const std::vector<Group>& groups, const std::string& path) {
  struct Bar {
    std::string label;
    double speedup;
  };
  std::vector<Bar> bars;
  for (const Group& g : groups) {
    const bool timed = g.unit.find("s/") != std::string::npos || g.unit == "ns" || g.unit == "us";
    const Row* ours = find(g, "ours");
    const Row* peer = peer_of(g);
    if (timed && ours && peer && ours->median > 0)
      bars.push_back({label_of(g) + " vs " + peer->contestant, peer->median / ours->median});
  }
  double low = 0.5, high = 2.0;
  for (const Bar& b : bars) {
    low = std::min(low, b.speedup);
    high = std::max(high, b.speedup);
  }
  const double log_low = std::floor(std::log10(low) * 2) / 2, log_high = std::ceil(std::log10(high) * 2) / 2;
  // The label column fits the longest label (about 7 px per character at this font size).
  std::size_t longest = 0;
  for (const Bar& b : bars) longest = std::max(longest, b.label.size());
  const double left = std::max(300.0, 7.0 * double(longest) + 20), plot_width = 520, bar_height = 16, gap = 6,
               top = 50;
  const double height = top + double(bars.size()) * (bar_height + gap) + 50;
  auto x_of = [&](double speedup) {
    return left + (std::log10(speedup) - log_low) / (log_high - log_low) * plot_width;
  };
  std::ofstream svg(path);
  if (!svg) throw std::runtime_error("cannot write " + path);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << left + plot_width + 80 << "\" height=\""
      << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"22\" font-size=\"15\">Our speed-up per workload (peer median / ours median, "
         "same "
         "run; log scale)</text>\n";
  // decade and half-decade grid lines with their labels
  for (double e = log_low; e <= log_high + 1e-9; e += 0.5) {
    const double v = std::pow(10.0, e), x = x_of(v);
    char text[32];
    std::snprintf(text, sizeof text, v < 1 ? "%.2gx" : "%.3gx", v);
    svg << "<line x1=\"" << x << "\" y1=\"" << top - 8 << "\" x2=\"" << x << "\" y2=\"" << height - 40
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << x << "\" y=\"" << height - 24 << "\" text-anchor=\"middle\">"
        << text << "</text>\n";
  }
  const double one = x_of(1.0);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double y = top + double(i) * (bar_height + gap), x = x_of(bars[i].speedup);
    const bool faster = bars[i].speedup >= 1.0;
    svg << "<text x=\"" << left - 8 << "\" y=\"" << y + bar_height - 4 << "\" text-anchor=\"end\">"
        << escape(bars[i].label) << "</text>\n"
        << "<rect x=\"" << std::min(x, one) << "\" y=\"" << y << "\" width=\"" << std::fabs(x - one)
        << "\" height=\"" << bar_height << "\" fill=\"" << (faster ? "#3a9a4a" : "#c8463c") << "\"/>\n";
    char text[32];
    std::snprintf(text, sizeof text, "%.2fx", bars[i].speedup);
    svg << "<text x=\"" << (faster ? x + 4 : x - 4) << "\" y=\"" << y + bar_height - 4 << "\" text-anchor=\""
        << (faster ? "start" : "end") << "\">" << text << "</text>\n";
  }
  svg << "<line x1=\"" << one << "\" y1=\"" << top - 8 << "\" x2=\"" << one << "\" y2=\"" << height - 40
      << "\" stroke=\"black\"/>\n</svg>\n";
}

// The scaling sweep of bench_mlp --scaling (rows scale_w<W>_b<B>): time per
// step against batch (at width 256) and against width (at batch 128), one
// line per contestant, both axes logarithmic; two panels side by side.
struct Point {
  double x, y;
};

void write_scaling_svg(const std::vector<Group>& groups, const std::string& path) {
  // contestant -> points, per panel
  std::map<std::string, std::vector<Point>> by_batch, by_width;
  for (const Group& g : groups) {
    unsigned width = 0, batch = 0;
    if (std::sscanf(std::get<0>(g.key).c_str(), "scale_w%u_b%u", &width, &batch) != 2) continue;
    for (const auto& [who, row] : g.by_contestant) {
      if (!(row.median > 0)) continue;
      if (width == 256) by_batch[who].push_back({double(batch), row.median});
      if (batch == 128) by_width[who].push_back({double(width), row.median});
    }
  }
  if (by_batch.empty() && by_width.empty()) return;
  const std::map<std::string, std::string> colour = {
      {"ours", "#3a9a4a"}, {"LibTorch", "#c8463c"}, {"floor", "#777"}};
  const double panel_w = 380, panel_h = 300, margin_left = 70, top = 50, gap = 90;
  std::ofstream svg(path);
  if (!svg) throw std::runtime_error("cannot write " + path);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << margin_left + 2 * panel_w + gap + 40
      << "\" height=\"" << top + panel_h + 90 << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"22\" font-size=\"15\">Cost of one training step (w-w-w tanh net, float, 1 "
         "thread; "
         "median us, log-log)</text>\n";
  auto panel = [&](const std::map<std::string, std::vector<Point>>& lines, double left, const char* title,
                   const char* x_label) {
    double x_lo = 1e300, x_hi = 0, y_lo = 1e300, y_hi = 0;
    for (const auto& [who, pts] : lines)
      for (const Point& p : pts) {
        x_lo = std::min(x_lo, p.x), x_hi = std::max(x_hi, p.x);
        y_lo = std::min(y_lo, p.y), y_hi = std::max(y_hi, p.y);
      }
    if (x_hi <= 0) return;
    const double lx0 = std::floor(std::log10(x_lo)), lx1 = std::ceil(std::log10(x_hi) + 1e-9);
    const double ly0 = std::floor(std::log10(y_lo)), ly1 = std::ceil(std::log10(y_hi) + 1e-9);
    auto px = [&](double x) { return left + (std::log10(x) - lx0) / std::max(1.0, lx1 - lx0) * panel_w; };
    auto py = [&](double y) {
      return top + panel_h - (std::log10(y) - ly0) / std::max(1.0, ly1 - ly0) * panel_h;
    };
    svg << "<text x=\"" << left << "\" y=\"" << top - 12 << "\">" << title << "</text>\n";
    for (double e = lx0; e <= lx1 + 1e-9; e += 1) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", std::pow(10.0, e));
      svg << "<line x1=\"" << px(std::pow(10.0, e)) << "\" y1=\"" << top << "\" x2=\""
          << px(std::pow(10.0, e)) << "\" y2=\"" << top + panel_h << "\" stroke=\"#ddd\"/>\n<text x=\""
          << px(std::pow(10.0, e)) << "\" y=\"" << top + panel_h + 16 << "\" text-anchor=\"middle\">" << text
          << "</text>\n";
    }
    for (double e = ly0; e <= ly1 + 1e-9; e += 1) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", std::pow(10.0, e));
      svg << "<line x1=\"" << left << "\" y1=\"" << py(std::pow(10.0, e)) << "\" x2=\"" << left + panel_w
          << "\" y2=\"" << py(std::pow(10.0, e)) << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 6
          << "\" y=\"" << py(std::pow(10.0, e)) + 4 << "\" text-anchor=\"end\">" << text << "</text>\n";
    }
    svg << "<text x=\"" << left + panel_w / 2 << "\" y=\"" << top + panel_h + 36
        << "\" text-anchor=\"middle\">" << x_label << "</text>\n";
    double legend_y = top + 14;
    for (auto [who, pts] : lines) {
      std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
      const auto c = colour.count(who) ? colour.at(who) : std::string("#35c");
      svg << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
      for (const Point& p : pts) svg << px(p.x) << "," << py(p.y) << " ";
      svg << "\"/>\n";
      for (const Point& p : pts)
        svg << "<circle cx=\"" << px(p.x) << "\" cy=\"" << py(p.y) << "\" r=\"3\" fill=\"" << c << "\"/>\n";
      svg << "<text x=\"" << left + 10 << "\" y=\"" << legend_y << "\" fill=\"" << c << "\">" << escape(who)
          << "</text>\n";
      legend_y += 16;
    }
  };
  panel(by_batch, margin_left, "vs batch size (width 256)", "batch size");
  panel(by_width, margin_left + panel_w + gap, "vs width (batch 128)", "width");
  svg << "</svg>\n";
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: bench_chart RESULTS.csv [SPEEDUP.svg [SCALING.svg]]\n");
    return 2;
  }
  const std::vector<Group> groups = group_rows(read_rows(argv[1]));
  print_table(groups);
  if (argc >= 3) {
    write_svg(groups, argv[2]);
    std::printf("\nwrote %s\n", argv[2]);
  }
  if (argc == 4) {
    write_scaling_svg(groups, argv[3]);
    std::printf("wrote %s\n", argv[3]);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_chart: %s\n", e.what());
  return 1;
}
