// A small SVG line-plot writer for the benchmark's HTML report: linear axes
// with "nice" ticks, one polyline per series, a legend and highlighted points.
// No library, no script; all text is XML-escaped. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagoda::bench {

struct PlotSeries {
  std::string name;                               // legend text (user input: escaped)
  std::vector<std::pair<double, double>> points;  // (x, y) in data units; non-finite points are skipped
  bool dashed = false;
  bool markers = false;                // a dot at every point
  int color = -1;                      // palette index; -1: the series' position
  std::vector<std::size_t> highlight;  // indices of points to ring (e.g. the saturation level)
};

struct PlotSpec {
  std::string title;
  std::string x_label;  // with units: "TTFT (ms)"
  std::string y_label;
  std::vector<PlotSeries> series;
  std::string highlight_label;  // legend text for the ringed points, when any
  bool y_from_zero = true;      // start the y axis at 0 (else at the data's minimum)
  bool x_from_zero = true;
  int width = 720;
  int height = 380;
};

// Tick positions covering [lo, hi] with a step of 1, 2 or 5 x 10^k and about
// `target_count` ticks; the first tick <= lo and the last >= hi. lo == hi is
// widened. Non-finite input gives {0, 1}.
std::vector<double> nice_ticks(double lo, double hi, int target_count = 6);

// A tick label for `value` on an axis whose step is `step`: as many decimals
// as the step needs ("0", "2.5", "0.05").
std::string tick_label(double value, double step);

// One `<svg ...>...</svg>` element.
std::string render_svg(const PlotSpec& spec);

// Escapes & < > " ' for HTML/XML text and attribute values.
std::string xml_escape(std::string_view text);

}  // namespace pagoda::bench
