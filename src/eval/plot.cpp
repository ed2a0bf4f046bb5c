// Line charts as plain SVG text: round ticks on padded axes (so reference lines and end points
// never sit on the frame), an optional log y axis, error bars, and a legend sized to its labels.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "layerlab/plot.h"
#include "util/svg.h"

namespace layerlab {

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) {
    hi = lo + 1;
    lo -= 1;
  }
  const double raw = (hi - lo) / std::max(1, count - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    const double r = std::round(v / step) * step;  // no 0.30000000000000004
    t.push_back(std::abs(r) < step * 1e-9 ? 0 : r);
  }
  return t;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  if (!(lo > 0) || !(hi > lo)) return t;
  for (const std::vector<double>& mant : {std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    t.clear();
    for (int e = int(std::floor(std::log10(lo))); e <= int(std::ceil(std::log10(hi))); ++e)
      for (double m : mant) {
        const double v = m * std::pow(10.0, e);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
      }
    if (t.size() >= 4) break;
  }
  return t;
}

bool spans_decades(const std::vector<double>& values) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v <= 0) return false;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  return std::isfinite(lo) && hi / lo >= 10;
}

namespace {

// Tableau-10: distinguishable line colours.
const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const char* kDashes[] = {"8 4", "2 4", "12 3 2 3"};

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return b;
}

// Rough text width in pixels at font size 12 (legend and margin sizing).
int text_width(const std::string& s) { return int(6.6 * double(s.size())) + 4; }

}  // namespace

std::string line_chart_svg(const LineChart& c) {
  // Legend entries decide the right margin and, when long, the height.
  size_t longest = 0;
  for (const auto& h : c.hlines) longest = std::max(longest, h.name.size());
  for (const auto& s : c.series) longest = std::max(longest, s.name.size());
  const int entries = int(c.hlines.size() + c.series.size());
  const int left = 78, top = c.subtitle.empty() ? 48 : 64, bottom = 58;
  const int right = 60 + text_width(std::string(longest, 'x'));
  const int pw = 520;
  const int ph = std::max(340, 18 * entries + 20);
  const int W = left + pw + right, H = top + ph + bottom;
  // Data extent (points, error bars, reference lines and their bands).
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  const bool log_y = c.log_y;
  auto see_y = [&](double v) {
    if (std::isfinite(v) && (!log_y || v > 0)) y0 = std::min(y0, v), y1 = std::max(y1, v);
  };
  for (const Series& s : c.series) {
    for (double v : s.x)
      if (std::isfinite(v)) x0 = std::min(x0, v), x1 = std::max(x1, v);
    for (double v : s.y) see_y(v);
    for (double v : s.lo) see_y(v);
    for (double v : s.hi) see_y(v);
  }
  for (const auto& h : c.hlines) see_y(h.y - h.band), see_y(h.y + h.band);
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (!std::isfinite(y0)) y0 = log_y ? 1 : 0, y1 = log_y ? 10 : 1;
  if (x1 == x0) x0 -= 1, x1 += 1;
  if (y1 == y0) log_y ? (y0 /= 2, y1 *= 2) : (y0 -= 0.5, y1 += 0.5);
  // Axes: padded, then (linear) widened to whole tick steps so they start and end on round values.
  std::vector<double> xt = nice_ticks(x0, x1), yt;
  std::vector<double> xs;  // distinct x values: the ticks themselves when there are few (N = 1, 3, 5, ...)
  for (const Series& sr : c.series)
    for (double v : sr.x)
      if (std::isfinite(v) && std::find(xs.begin(), xs.end(), v) == xs.end()) xs.push_back(v);
  std::sort(xs.begin(), xs.end());
  if (c.integer_x && xs.size() >= 2 && xs.size() <= 12) {
    xt = xs;
  } else if (c.integer_x) {
    std::vector<double> keep;
    for (double t : xt)
      if (std::abs(t - std::round(t)) < 1e-9) keep.push_back(std::round(t));
    if (keep.size() < 2)
      for (double t = std::ceil(x0); t <= x1; t += 1) keep.push_back(t);
    xt = keep;
  }
  const double xpad = c.integer_x ? 0.5 : 0.04 * (x1 - x0);
  x0 -= xpad, x1 += xpad;
  if (log_y) {
    const double pad = std::pow(y1 / y0, 0.06);
    y0 /= pad, y1 *= pad;
    yt = log_ticks(y0, y1);
  } else {
    const double pad = 0.06 * (y1 - y0);
    y0 -= pad, y1 += pad;
    yt = nice_ticks(y0, y1);
    const double step = yt.size() > 1 ? yt[1] - yt[0] : 1;
    y0 = std::floor(y0 / step + 1e-9) * step, y1 = std::ceil(y1 / step - 1e-9) * step;
    yt = nice_ticks(y0, y1);
  }
  auto X = [&](double v) { return left + (v - x0) / (x1 - x0) * pw; };
  auto Y = [&](double v) {
    const double t = log_y ? (std::log(v) - std::log(y0)) / (std::log(y1) - std::log(y0)) : (v - y0) / (y1 - y0);
    return top + ph - t * ph;
  };
  std::string s;
  char b[768];
  std::snprintf(b, sizeof b,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='DejaVu Sans, sans-serif' font-size='12'>\n"
                "<rect width='100%%' height='100%%' fill='white'/>\n"
                "<text class='title' x='%d' y='24' font-size='15' text-anchor='middle'>%s</text>\n",
                W, H, left + pw / 2, svg::escape(c.title).c_str());
  s += b;
  if (!c.subtitle.empty()) {
    std::snprintf(b, sizeof b, "<text class='subtitle' x='%d' y='44' font-size='12' fill='#555' text-anchor='middle'>%s</text>\n",
                  left + pw / 2, svg::escape(c.subtitle).c_str());
    s += b;
  }
  for (double t : yt) {  // grid and ticks
    std::snprintf(b, sizeof b,
                  "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e6e6e6'/>\n"
                  "<text class='ytick' x='%d' y='%.1f' text-anchor='end' dy='0.35em'>%s</text>\n",
                  left, Y(t), left + pw, Y(t), left - 6, Y(t), fmt(t).c_str());
    s += b;
  }
  for (double t : xt) {
    std::snprintf(b, sizeof b,
                  "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#e6e6e6'/>\n"
                  "<text class='xtick' x='%.1f' y='%d' text-anchor='middle'>%s</text>\n",
                  X(t), top, X(t), top + ph, X(t), top + ph + 18, fmt(t).c_str());
    s += b;
  }
  std::snprintf(b, sizeof b,
                "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#333'/>\n"
                "<text class='xlabel' x='%d' y='%d' text-anchor='middle'>%s</text>\n"
                "<text class='ylabel' x='18' y='%d' text-anchor='middle' transform='rotate(-90 18 %d)'>%s</text>\n",
                left, top, pw, ph, left + pw / 2, H - 16, svg::escape(c.x_label).c_str(), top + ph / 2, top + ph / 2,
                svg::escape(c.y_label).c_str());
  s += b;
  const int lx = left + pw + 14;
  int legend_y = top + 10;
  for (size_t i = 0; i < c.hlines.size(); ++i) {
    const RefLine& h = c.hlines[i];
    const char* dash = kDashes[i % 3];
    if (h.band > 0) {
      std::snprintf(b, sizeof b, "<rect class='band' x='%d' y='%.1f' width='%d' height='%.1f' fill='#555' fill-opacity='0.08'/>\n",
                    left, Y(h.y + h.band), pw, std::max(0.5, Y(h.y - h.band) - Y(h.y + h.band)));
      s += b;
    }
    std::snprintf(b, sizeof b,
                  "<line class='hline' x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#444' stroke-width='1.5' stroke-dasharray='%s'/>\n"
                  "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444' stroke-width='1.5' stroke-dasharray='%s'/>"
                  "<text class='legend' x='%d' y='%d' dy='0.35em'>%s</text>\n",
                  left, Y(h.y), left + pw, Y(h.y), dash, lx, legend_y, lx + 26, legend_y, dash, lx + 32, legend_y,
                  svg::escape(h.name).c_str());
    s += b;
    legend_y += 18;
  }
  // Series side by side at each x (a few pixels apart), so their error bars do not overlap.
  const double dodge_step = c.series.size() > 1 ? std::min(4.0, 0.3 * pw / std::max<size_t>(2, xs.size()) / double(c.series.size())) : 0;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& sr = c.series[i];
    const char* col = kColours[i % 10];
    const double dx = (double(i) - 0.5 * double(c.series.size() - 1)) * dodge_step;
    auto X = [&](double v) { return left + (v - x0) / (x1 - x0) * pw + dx; };
    std::string pts;
    for (size_t k = 0; k < sr.x.size(); ++k) {
      if (!std::isfinite(sr.y[k]) || (log_y && sr.y[k] <= 0)) continue;
      std::snprintf(b, sizeof b, "%.1f,%.1f ", X(sr.x[k]), Y(sr.y[k]));
      pts += b;
    }
    std::snprintf(b, sizeof b, "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>\n", col, pts.c_str());
    s += b;
    for (size_t k = 0; k < sr.x.size(); ++k) {
      if (!std::isfinite(sr.y[k]) || (log_y && sr.y[k] <= 0)) continue;
      if (k < sr.lo.size() && k < sr.hi.size() && sr.hi[k] > sr.lo[k] && std::isfinite(sr.lo[k]) && std::isfinite(sr.hi[k])) {
        const double lo = log_y ? std::max(sr.lo[k], y0) : sr.lo[k];
        const double x = X(sr.x[k]);
        std::snprintf(b, sizeof b,
                      "<path class='errorbar' d='M%.1f %.1fV%.1fM%.1f %.1fh6M%.1f %.1fh6' stroke='%s' fill='none'/>\n", x,
                      Y(lo), Y(sr.hi[k]), x - 3, Y(lo), x - 3, Y(sr.hi[k]), col);
        s += b;
      }
      std::snprintf(b, sizeof b, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>%s: N=%s, %s</title></circle>\n",
                    X(sr.x[k]), Y(sr.y[k]), col, svg::escape(sr.name).c_str(), fmt(sr.x[k]).c_str(), fmt(sr.y[k]).c_str());
      s += b;
    }
    std::snprintf(b, sizeof b,
                  "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/>"
                  "<text class='legend' x='%d' y='%d' dy='0.35em'>%s</text>\n",
                  lx, legend_y, lx + 26, legend_y, col, lx + 32, legend_y, svg::escape(sr.name).c_str());
    s += b;
    legend_y += 18;
  }
  return s + "</svg>\n";
}

}  // namespace layerlab
