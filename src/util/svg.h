#pragma once
// Tiny helpers for hand-written SVG figures: text escaping and a perceptual colour map.
#include <string>

namespace layerlab::svg {

std::string escape(const std::string& s);
// Viridis-like colour for t in [0, 1] as "#rrggbb".
std::string viridis(double t);

}  // namespace layerlab::svg
