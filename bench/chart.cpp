// bench_chart: the suite's summary from its CSV rows
// (workload,dtype,threads,contestant,median,min,max,unit), as a side-by-side
// table on stdout and an SVG bar chart of our speed-up over the peer of each
// timed workload: speed-up = peer median / ours median (> 1: we are faster),
// drawn on a log scale around 1x. No dependencies beyond the standard library.
//
//   bench_chart RESULTS.csv [SPEEDUP.svg]
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

// The peer a workload is compared against: LibTorch for tensor workloads,
// ADOL-C for the scalar ones.
const Row* peer_of(const Group& g) {
  for (const char* name : {"LibTorch", "ADOL-C"}) {
    auto it = g.by_contestant.find(name);
    if (it != g.by_contestant.end() && std::isfinite(it->second.median)) return &it->second;
  }
  return nullptr;
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

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bench_chart RESULTS.csv [SPEEDUP.svg]\n");
    return 2;
  }
  const std::vector<Group> groups = group_rows(read_rows(argv[1]));
  print_table(groups);
  if (argc == 3) {
    write_svg(groups, argv[2]);
    std::printf("\nwrote %s\n", argv[2]);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_chart: %s\n", e.what());
  return 1;
}
