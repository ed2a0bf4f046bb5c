// The MLP of one layer application: the most active neurons (columns) at each token (rows), with
// each row's token label and its mean |activation| and active share drawn on the same canvas row.
import type { Application, ForwardResult } from '../api';
import { $, show } from '../dom';
import { Heatmap } from '../heatmap';
import { divergingLegend, divergingRamp, legendElement, robustMax } from '../scales';

let map: Heatmap | null = null;

export function renderMlp(run: ForwardResult, app: Application) {
  const T = run.tokens.length;
  const N = app.mlp.neurons.length;
  // Columns: the neurons, then a spacer, then mean |act| as a bar of 12 cells.
  const BAR = 12;
  const mx = Math.max(...app.mlp.mean_abs, 1e-9);
  const rows = run.tokens.map((_, t) => [...app.mlp.values.map((col) => col[t]), NaN,
    ...Array.from({ length: BAR }, (_, b) => (b < Math.round(BAR * app.mlp.mean_abs[t] / mx) ? Infinity : NaN))]);
  const m = robustMax(app.mlp.values);
  const colour = (v: number) => (Number.isNaN(v) ? '#fff' : v === Infinity ? '#7aa0e8' : divergingRamp(v / m));
  const labels = run.tokens.map((t, i) => `${show(t.text)}`);
  const colLabels = [...app.mlp.neurons.map((n) => `n${n}`), '', 'mean|a|', ...Array(BAR - 1).fill('')];
  const cell = T > 60 ? 8 : 14;
  const canvas = $('mlp-canvas') as HTMLCanvasElement;
  map ??= new Heatmap(canvas, { cell, colour, onHover: () => {} });
  map.update({
    cell, colour, rowLabels: labels, colLabels,
    onHover: (r, c) => {
      if (r < 0) { $('mlp-info').textContent = 'hover a cell'; return; }
      const tok = `token "${labels[r]}" (#${r})`;
      $('mlp-info').textContent = c < N
        ? `${tok}, neuron ${app.mlp.neurons[c]}: ${app.mlp.values[c][r]}`
        : `${tok}: mean |activation| ${app.mlp.mean_abs[r].toFixed(3)}, ${(100 * app.mlp.active_frac[r]).toFixed(0)}% of ${'neurons'} positive`;
    },
  });
  map.setData(rows);
  $('mlp-legend').replaceChildren(legendElement(divergingLegend(m, `activation after ${'the nonlinearity'} (layer ${app.layer})`)));
}
