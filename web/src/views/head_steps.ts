// One attention head step by step, as the Transformer Explainer shows it: the Q, K and V vectors
// of every token, then Q Kᵀ, the scaling by 1/√d_head, the causal mask, the softmax, and the
// output (weights × V). Everything after Q Kᵀ is recomputed here from the server's scores, and
// the softmax is checked against the weights the model itself used.
import type { HeadDetail } from '../api';
import { $, el, show } from '../dom';
import { Heatmap, cellFor } from '../heatmap';
import { divergingLegend, divergingRamp, legendElement, probabilityLegend, ramp, robustMax, toUnit } from '../scales';
import { scaleMode } from './attention';

const MASKED = '#4a4a4a';

export interface HeadSteps { scaled: number[][]; masked: number[][]; softmax: number[][]; maxDiff: number }

// The steps from raw scores: scaled = s·scale, masked (keys after the query = −∞), softmax per row.
export function headSteps(d: HeadDetail): HeadSteps {
  const scaled = d.scores.map((r) => r.map((v) => v * d.scale));
  const masked = scaled.map((r, i) => r.map((v, j) => (d.causal && j > i ? -Infinity : v)));
  let maxDiff = 0;
  const softmax = masked.map((r, i) => {
    const mx = Math.max(...r);
    const e = r.map((v) => (v === -Infinity ? 0 : Math.exp(v - mx)));
    const z = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / z);
    p.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - (d.probs[i]?.[j] ?? 0))); });
    return p;
  });
  return { scaled, masked, softmax, maxDiff };
}

function matrix(title: string, rows: number[][], colour: (v: number, r: number) => string, labels: string[],
                colLabels: string[] | undefined, cell: number, legend: HTMLElement, onHover?: (r: number, c: number) => void,
                cellH?: number) {
  const box = el('div', 'head');
  box.append(el('div', 'step-title', title));
  const canvas = document.createElement('canvas');
  box.append(canvas, legend);
  new Heatmap(canvas, { cell, cellH, colour, rowLabels: labels, colLabels, onHover }).setData(rows);
  return box;
}

export function renderHeadSteps(d: HeadDetail, query: number) {
  const box = $('head-steps');
  box.replaceChildren();
  const T = d.tokens.length;
  const labels = d.tokens.map((t) => show(t.text));
  const s = headSteps(d);
  $('head-title').textContent = `layer ${d.layer} · head ${d.head}` + (d.kv_head !== d.head ? ` (key/value head ${d.kv_head})` : '') +
    ` · d_head = ${d.head_dim}` + (d.rope ? ' · Q and K after RoPE' : '');
  // 1. Q, K, V vectors.
  const vecs = el('div', 'heads');
  const vcell = cellFor(d.head_dim, 260, 2, 5), vrow = cellFor(T, 300, 3, 12);
  for (const [name, rows] of [['Q (queries)', d.q], ['K (keys)', d.k], ['V (values)', d.v]] as const) {
    if (!rows) continue;
    const m = robustMax(rows);
    vecs.append(matrix(`${name}: token × dimension`, rows, (v) => divergingRamp(v / m), labels, undefined, vcell,
                       legendElement(divergingLegend(m, 'component')), undefined, vrow));
  }
  box.append(el('h3', '', '1. Each token\'s query, key and value vector (rows), this head\'s slice of the QKV projection'), vecs);
  // 2. Q Kᵀ → scale → mask → softmax.
  const cell = cellFor(T, 230, 2, 12);
  const mRaw = robustMax(d.scores), mScaled = mRaw * d.scale;
  const finite = (c: (v: number, r: number) => string) => (v: number, r: number) => (v === -Infinity ? MASKED : c(v, r));
  const mode = scaleMode();
  const rowMax = s.softmax.map((r) => Math.max(...r));
  const hover = (r: number, c: number) => {
    if (r < 0) return;
    $('head-cell').textContent = `query "${labels[r]}" (#${r}) · key "${labels[c]}" (#${c}): q·k = ${d.scores[r][c].toFixed(3)}, ` +
      `÷√${d.head_dim} = ${s.scaled[r][c].toFixed(3)}` + (s.masked[r][c] === -Infinity ? ', masked (a later token)' : `, softmax ${s.softmax[r][c].toFixed(4)}`);
  };
  const steps = el('div', 'heads');
  steps.append(
    matrix('Q Kᵀ: q_i · k_j', d.scores, (v) => divergingRamp(v / mRaw), labels, labels, cell, legendElement(divergingLegend(mRaw, 'score')), hover),
    matrix(`÷ √d_head = × ${d.scale.toFixed(4)}`, s.scaled, (v) => divergingRamp(v / mScaled), labels, labels, cell,
           legendElement(divergingLegend(mScaled, 'scaled score')), hover),
    matrix(d.causal ? 'causal mask: keys after the query → −∞' : 'no mask (bidirectional)', s.masked,
           finite((v) => divergingRamp(v / mScaled)), labels, labels, cell, legendElement(divergingLegend(mScaled, 'masked score (grey: −∞)')), hover),
    matrix('softmax per row = attention weights', s.softmax, (v, r) => ramp(toUnit(mode, v, rowMax[r])), labels, labels, cell,
           legendElement(probabilityLegend(mode)), hover),
  );
  box.append(el('h3', '', '2. Scores, scaling, mask and softmax (hover a cell)'), steps);
  const agree = el('div', 'muted', d.shaped
    ? `shaped attention: the model mixes this softmax with the identity and a uniform map (max difference ${s.maxDiff.toExponential(1)})`
    : `softmax recomputed here matches the model's attention weights (max difference ${s.maxDiff.toExponential(1)})`);
  agree.id = 'head-check';
  box.append(agree);
  // 3. One query: its keys' numbers, and its output vector.
  const q = Math.max(0, Math.min(T - 1, query));
  const table = el('table');
  const hr = el('tr');
  ['key', 'q·k', '÷√d', 'mask', 'softmax', 'model'].forEach((h) => hr.append(el('th', '', h)));
  table.append(hr);
  for (let j = 0; j < T; j++) {
    const tr = el('tr');
    const masked = s.masked[q][j] === -Infinity;
    [`${labels[j]} #${j}`, d.scores[q][j].toFixed(3), s.scaled[q][j].toFixed(3), masked ? '−∞' : '', masked ? '0' : s.softmax[q][j].toFixed(4),
     (d.probs[q][j] ?? 0).toFixed(4)].forEach((v) => tr.append(el('td', '', v)));
    if (!masked) tr.style.background = ramp(0.6 * toUnit(mode, s.softmax[q][j], rowMax[q]));
    table.append(tr);
  }
  const detail = el('div', 'row');
  const tbox = el('div', 'small-table');
  tbox.append(table);
  detail.append(tbox);
  if (d.output) {
    const m = robustMax([d.output[q]]);
    detail.append(matrix(`output of "${labels[q]}" = Σ_j softmax_j · v_j (${d.head_dim} dims)`, [d.output[q]], (v) => divergingRamp(v / m),
                         [labels[q]], undefined, 5, legendElement(divergingLegend(m, 'component')), undefined, 14));
  }
  box.append(el('h3', '', `3. Query "${labels[q]}" (#${q}): each key's score → weight, and the weighted sum of values`), detail);
}
