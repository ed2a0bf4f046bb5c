// The residual stream along the plan: the logit lens table, how much each step wrote (‖Δ‖) and
// how far it turned the stream (cosine with the previous state), and the layer similarity
// matrix (cosine between the states after every pair of steps, POST /api/similarity).
import type { ForwardResult, SimilarityResult } from '../api';
import { $, el, show } from '../dom';
import { Heatmap, cellFor } from '../heatmap';
import { legendElement, ramp } from '../scales';

export function renderLens(run: ForwardResult, box: HTMLElement, lastOnly = false) {
  const table = el('table', 'lens-table');
  const T = run.tokens.length;
  const cols = lastOnly ? [T - 1] : run.tokens.map((_, i) => i);
  const head = el('tr');
  head.append(el('th', '', 'step'));
  cols.forEach((i) => head.append(el('th', '', show(run.tokens[i].text))));
  head.append(el('th', '', '‖x‖ last'), el('th', '', '‖Δ‖ last'), el('th', '', 'cos(prev) last'));
  table.append(head);
  run.steps.forEach((s) => {
    const tr = el('tr');
    tr.append(el('th', '', `${s.index + 1}: ${s.label}`));
    cols.forEach((i) => {
      const top = s.lens?.[i]?.[0];
      const td = el('td', 'lens-cell', top ? show(top.text) : '');
      if (top) {
        td.style.background = `rgba(60,160,90,${top.prob.toFixed(3)})`;
        td.title = (s.lens?.[i] ?? []).map((e) => `${show(e.text)} ${(100 * e.prob).toFixed(1)}%`).join('\n');
      }
      tr.append(td);
    });
    tr.append(el('td', 'muted', s.resid_norm[T - 1].toFixed(1)), el('td', 'muted', s.delta_norm[T - 1].toFixed(1)),
              el('td', 'muted', s.cos_prev[T - 1].toFixed(3)));
    table.append(tr);
  });
  box.replaceChildren(table);
}

function stepMap(box: HTMLElement, title: string, rows: number[][], rowLabels: string[], colLabels: string[],
                 unit: (v: number) => number, legend: HTMLElement, describe: (r: number, c: number) => string) {
  const wrap = el('div', 'head');
  wrap.append(el('div', 'step-title', title));
  const canvas = document.createElement('canvas');
  const info = el('div', 'muted', 'hover a cell');
  wrap.append(canvas, legend, info);
  box.append(wrap);
  const cell = cellFor(Math.max(colLabels.length, rows.length), 320, 3, 14);
  new Heatmap(canvas, { cell, colour: (v) => ramp(unit(v)), rowLabels, colLabels,
                        onHover: (r, c) => { info.textContent = r < 0 ? 'hover a cell' : describe(r, c); } }).setData(rows);
}

// ‖Δ‖ and cos(prev) per step and token.
export function renderStepChanges(run: ForwardResult) {
  const box = $('step-changes');
  box.replaceChildren();
  const steps = run.steps.map((s) => `${s.index + 1}: ${s.label}`);
  const toks = run.tokens.map((t) => show(t.text));
  const dmax = Math.max(...run.steps.flatMap((s) => s.delta_norm), 1e-9);
  const ticks = (labels: string[], at: number[]) => at.map((a, i) => ({ at: a, label: labels[i] }));
  stepMap(box, '‖Δ‖: how much each step wrote into the stream', run.steps.map((s) => s.delta_norm), steps, toks, (v) => v / dmax,
          legendElement({ kind: 'sequential', title: '‖x_after − x_before‖', ticks: ticks(['0', (dmax / 2).toFixed(1), dmax.toFixed(1)], [0, 0.5, 1]) }),
          (r, c) => `${steps[r]}, token "${toks[c]}": ‖Δ‖ = ${run.steps[r].delta_norm[c]}`);
  // cos(prev) lies near 1 in deep layers: the scale runs from 0 to 1 with 1 - cos on a log axis would
  // hide negatives, so it is linear over [0, 1] and negatives are drawn as 0.
  stepMap(box, 'cos(prev): cosine between the stream before and after each step', run.steps.map((s) => s.cos_prev), steps, toks,
          (v) => 1 - Math.max(0, v),
          legendElement({ kind: 'sequential', title: 'cosine (dark: the step turned the stream)', ticks: ticks(['1', '0.5', '≤ 0'], [0, 0.5, 1]) }),
          (r, c) => `${steps[r]}, token "${toks[c]}": cos = ${run.steps[r].cos_prev[c]}`);
}

export function renderSimilarity(sim: SimilarityResult) {
  const box = $('similarity');
  box.replaceChildren();
  const lo = Math.min(...sim.matrix.flat()), span = Math.max(1e-9, 1 - lo);
  stepMap(box, `cosine similarity between the states after each pair of steps (${sim.tokens} tokens, mean over tokens)`,
          sim.matrix, sim.labels, sim.labels, (v) => (v - lo) / span,
          legendElement({ kind: 'sequential', title: 'mean cosine', ticks: [{ at: 0, label: lo.toFixed(2) }, { at: 0.5, label: ((lo + 1) / 2).toFixed(2) }, { at: 1, label: '1' }] }),
          (r, c) => `${sim.labels[r]} vs ${sim.labels[c]}: ${sim.matrix[r][c].toFixed(4)}`);
}
