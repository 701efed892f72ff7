#include "bench/client/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pagoda::bench {

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79"};
constexpr int kPaletteSize = static_cast<int>(sizeof(kPalette) / sizeof(kPalette[0]));
constexpr const char* kHighlightColor = "#d62728";
constexpr std::size_t kMaxLegendBytes = 28;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// At most `max_bytes` bytes of `s` without splitting a UTF-8 sequence, with
// an ellipsis when cut.
std::string truncate_utf8(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

struct Range {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};

Range axis_range(double lo, double hi) {
  Range r;
  r.ticks = nice_ticks(lo, hi);
  r.lo = r.ticks.front();
  r.hi = r.ticks.back();
  if (!(r.hi > r.lo)) r.hi = r.lo + 1;
  return r;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab and newline are not allowed in XML.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (hi == lo) {
    if (lo == 0) {
      hi = 1;
    } else {
      double pad = std::abs(lo) * 0.1;
      lo -= pad;
      hi += pad;
    }
  }
  int n = std::max(target_count, 2);
  double raw = (hi - lo) / (n - 1);
  if (!std::isfinite(raw) || raw <= 0) return {0, 1};
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double r = raw / mag;
  double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  double first = std::floor(lo / step);
  double last = std::ceil(hi / step);
  std::vector<double> ticks;
  for (double i = first; i <= last + 1e-9 && ticks.size() < 64; i += 1) {
    double v = i * step;
    if (std::abs(v) < step * 1e-9) v = 0;
    ticks.push_back(v);
  }
  if (ticks.size() < 2) ticks = {lo, hi};
  return ticks;
}

std::string tick_label(double value, double step) {
  int decimals = 0;
  if (step > 0 && step < 1 && std::isfinite(step)) {
    decimals = std::min(10, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  }
  if (std::abs(value) < std::abs(step) * 1e-6) value = 0;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

std::string render_svg(const PlotSpec& spec) {
  const int width = std::max(spec.width, 320);
  const int height = std::max(spec.height, 200);
  const double left = 72, right = 200, top = 40, bottom = 52;
  const double x0 = left, x1 = width - right, y0 = top, y1 = height - bottom;

  // Data bounds over finite points.
  bool any = false;
  double min_x = 0, max_x = 0, min_y = 0, max_y = 0;
  for (const PlotSeries& s : spec.series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (!any) {
        min_x = max_x = x;
        min_y = max_y = y;
        any = true;
      }
      min_x = std::min(min_x, x);
      max_x = std::max(max_x, x);
      min_y = std::min(min_y, y);
      max_y = std::max(max_y, y);
    }
  }
  if (spec.x_from_zero) min_x = std::min(min_x, 0.0);
  if (spec.y_from_zero) min_y = std::min(min_y, 0.0);
  Range xr = any ? axis_range(min_x, max_x) : axis_range(0, 1);
  Range yr = any ? axis_range(min_y, max_y) : axis_range(0, 1);
  auto px = [&](double x) { return x0 + (x - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - yr.lo) / (yr.hi - yr.lo) * (y1 - y0); };

  std::string title = xml_escape(spec.title);
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + title + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<title>" + title + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
       "\" fill=\"#ffffff\"/>\n";
  o += "<text x=\"" + fmt((x0 + x1) / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" " +
       "font-weight=\"bold\">" + title + "</text>\n";

  // Grid, ticks and tick labels.
  double x_step = xr.ticks.size() > 1 ? xr.ticks[1] - xr.ticks[0] : 1;
  double y_step = yr.ticks.size() > 1 ? yr.ticks[1] - yr.ticks[0] : 1;
  for (double t : xr.ticks) {
    std::string x = fmt(px(t));
    o += "<line x1=\"" + x + "\" y1=\"" + fmt(y0) + "\" x2=\"" + x + "\" y2=\"" + fmt(y1 + 4) +
         "\" stroke=\"#e0e0e0\"/>\n";
    o += "<text x=\"" + x + "\" y=\"" + fmt(y1 + 18) + "\" text-anchor=\"middle\">" +
         xml_escape(tick_label(t, x_step)) + "</text>\n";
  }
  for (double t : yr.ticks) {
    std::string y = fmt(py(t));
    o += "<line x1=\"" + fmt(x0 - 4) + "\" y1=\"" + y + "\" x2=\"" + fmt(x1) + "\" y2=\"" + y +
         "\" stroke=\"#e0e0e0\"/>\n";
    o += "<text x=\"" + fmt(x0 - 8) + "\" y=\"" + fmt(py(t) + 4) + "\" text-anchor=\"end\">" +
         xml_escape(tick_label(t, y_step)) + "</text>\n";
  }
  o += "<line x1=\"" + fmt(x0) + "\" y1=\"" + fmt(y1) + "\" x2=\"" + fmt(x1) + "\" y2=\"" + fmt(y1) +
       "\" stroke=\"#333333\"/>\n";
  o += "<line x1=\"" + fmt(x0) + "\" y1=\"" + fmt(y0) + "\" x2=\"" + fmt(x0) + "\" y2=\"" + fmt(y1) +
       "\" stroke=\"#333333\"/>\n";
  o += "<text x=\"" + fmt((x0 + x1) / 2) + "\" y=\"" + fmt(height - 12.0) + "\" text-anchor=\"middle\">" +
       xml_escape(spec.x_label) + "</text>\n";
  o += "<text transform=\"translate(16," + fmt((y0 + y1) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       xml_escape(spec.y_label) + "</text>\n";
  if (!any) {
    o += "<text x=\"" + fmt((x0 + x1) / 2) + "\" y=\"" + fmt((y0 + y1) / 2) +
         "\" text-anchor=\"middle\" fill=\"#888888\">no data</text>\n";
  }

  // Series, then the legend.
  bool any_highlight = false;
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& s = spec.series[i];
    int color_index = s.color >= 0 ? s.color : static_cast<int>(i);
    std::string color = kPalette[color_index % kPaletteSize];
    std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::string points;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (!points.empty()) points += ' ';
      points += fmt(px(x)) + "," + fmt(py(y));
    }
    if (!points.empty()) {
      o += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\"" + dash + " points=\"" +
           points + "\"/>\n";
    }
    for (std::size_t j = 0; j < s.points.size(); ++j) {
      auto [x, y] = s.points[j];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (s.markers) {
        o += "<circle cx=\"" + fmt(px(x)) + "\" cy=\"" + fmt(py(y)) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
      }
      if (std::find(s.highlight.begin(), s.highlight.end(), j) != s.highlight.end()) {
        o += "<circle cx=\"" + fmt(px(x)) + "\" cy=\"" + fmt(py(y)) + "\" r=\"7\" fill=\"none\" stroke=\"" +
             kHighlightColor + "\" stroke-width=\"2\"/>\n";
        any_highlight = true;
      }
    }
    double ly = y0 + 8 + 18.0 * static_cast<double>(i);
    o += "<line x1=\"" + fmt(x1 + 14) + "\" y1=\"" + fmt(ly) + "\" x2=\"" + fmt(x1 + 40) + "\" y2=\"" +
         fmt(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" + dash + "/>\n";
    o += "<text x=\"" + fmt(x1 + 46) + "\" y=\"" + fmt(ly + 4) + "\">" +
         xml_escape(truncate_utf8(s.name, kMaxLegendBytes)) + "</text>\n";
  }
  if (any_highlight && !spec.highlight_label.empty()) {
    double ly = y0 + 8 + 18.0 * static_cast<double>(spec.series.size());
    o += "<circle cx=\"" + fmt(x1 + 27) + "\" cy=\"" + fmt(ly) + "\" r=\"6\" fill=\"none\" stroke=\"" +
         kHighlightColor + "\" stroke-width=\"2\"/>\n";
    o += "<text x=\"" + fmt(x1 + 46) + "\" y=\"" + fmt(ly + 4) + "\">" +
         xml_escape(truncate_utf8(spec.highlight_label, kMaxLegendBytes)) + "</text>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace pagoda::bench
