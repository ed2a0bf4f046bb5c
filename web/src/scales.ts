// Colour scales and their legends. Attention weights need a choice of scale: on a linear scale a
// 100-token map is almost white (a row's weights spread over 100 keys), so the page also offers a
// square-root, a log and a per-row scale (each row divided by its own maximum).

export type ScaleMode = 'linear' | 'sqrt' | 'log' | 'row';
export const SCALE_MODES: { mode: ScaleMode; label: string }[] = [
  { mode: 'sqrt', label: 'square root' },
  { mode: 'log', label: 'log (10⁻⁴ … 1)' },
  { mode: 'row', label: 'per row (÷ row max)' },
  { mode: 'linear', label: 'linear' },
];
export const LOG_FLOOR = 1e-4;

// Sequential ramp: t in [0, 1] -> white, light blue, deep blue, near black (readable at both ends).
export function ramp(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  const stops = [[255, 255, 255], [158, 202, 225], [33, 113, 181], [8, 48, 107], [20, 20, 40]];
  const f = x * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(f)), u = f - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// Diverging ramp: t in [-1, 1] -> blue, white, red.
export function divergingRamp(t: number): string {
  const x = Math.max(-1, Math.min(1, t));
  if (x >= 0) return `rgb(255,${Math.round(255 - 205 * x)},${Math.round(255 - 215 * x)})`;
  return `rgb(${Math.round(255 + 215 * x)},${Math.round(255 + 165 * x)},255)`;
}

// Position in [0, 1] of a probability-like value v under a mode (rowMax for 'row').
export function toUnit(mode: ScaleMode, v: number, rowMax = 1): number {
  if (!(v > 0)) return 0;
  switch (mode) {
    case 'linear': return Math.min(1, v);
    case 'sqrt': return Math.sqrt(Math.min(1, v));
    case 'log': return Math.max(0, (Math.log10(Math.max(v, LOG_FLOOR)) - Math.log10(LOG_FLOOR)) / -Math.log10(LOG_FLOOR));
    case 'row': return rowMax > 0 ? Math.min(1, v / rowMax) : 0;
  }
}

export interface Legend { kind: 'sequential' | 'diverging'; ticks: { at: number; label: string }[]; title: string }

// The legend of an attention-weight scale.
export function probabilityLegend(mode: ScaleMode, title = 'attention weight'): Legend {
  const vals = mode === 'log' ? [1e-4, 1e-3, 1e-2, 0.1, 1] : [0, 0.05, 0.25, 0.5, 1];
  if (mode === 'row') return { kind: 'sequential', title: `${title} ÷ row maximum`, ticks: [0, 0.25, 0.5, 0.75, 1].map((v) => ({ at: v, label: String(v) })) };
  const label = (v: number) => (mode === 'log' ? v.toExponential(0).replace('e+0', '').replace('e-', 'e-') : String(v));
  return { kind: 'sequential', title: `${title} (${mode} scale)`, ticks: vals.map((v) => ({ at: toUnit(mode, v), label: label(v) })) };
}

// The legend of a symmetric diverging scale over [-m, m].
export function divergingLegend(m: number, title: string): Legend {
  const f = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));
  return { kind: 'diverging', title, ticks: [-1, -0.5, 0, 0.5, 1].map((u) => ({ at: (u + 1) / 2, label: f(u * m) })) };
}

// A legend as HTML (a CSS gradient bar with tick labels), so it never counts as a map canvas.
export function legendElement(l: Legend): HTMLElement {
  const box = document.createElement('div');
  box.className = 'legend';
  const stops = Array.from({ length: 11 }, (_, i) => i / 10)
    .map((t) => (l.kind === 'sequential' ? ramp(t) : divergingRamp(2 * t - 1)) + ` ${t * 100}%`).join(',');
  const bar = document.createElement('div');
  bar.className = 'legend-bar';
  bar.style.background = `linear-gradient(to right, ${stops})`;
  const ticks = document.createElement('div');
  ticks.className = 'legend-ticks';
  for (const t of l.ticks) {
    const s = document.createElement('span');
    s.textContent = t.label;
    s.style.left = `${(100 * t.at).toFixed(1)}%`;
    ticks.append(s);
  }
  const title = document.createElement('div');
  title.className = 'legend-title';
  title.textContent = l.title;
  box.append(title, bar, ticks);
  return box;
}

// 99th percentile of |v|: a range that a few outliers do not wash out.
export function robustMax(rows: number[][]): number {
  const all = rows.flat().map(Math.abs).sort((a, b) => a - b);
  return all.length ? all[Math.floor(0.99 * (all.length - 1))] || 1 : 1;
}
