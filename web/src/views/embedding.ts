// The embedding: each token's input vector as token vector + position vector (learned positions,
// GPT-2 / BERT), or the token vector alone with RoPE explained (Llama: no position vector; the
// position rotates Q and K inside every attention layer).
import type { ForwardResult, Info } from '../api';
import { $, el, show } from '../dom';
import { Heatmap, cellFor } from '../heatmap';
import { divergingLegend, divergingRamp, legendElement, robustMax } from '../scales';

function map(title: string, rows: number[][], m: number, labels: string[], cell: number, cellH: number) {
  const box = el('div', 'head');
  box.append(el('div', 'step-title', title));
  const canvas = document.createElement('canvas');
  canvas.className = 'embedding-canvas';
  box.append(canvas);
  new Heatmap(canvas, { cell, cellH, colour: (v) => divergingRamp(v / m), rowLabels: labels }).setData(rows);
  return box;
}

export function renderEmbedding(run: ForwardResult, info: Info | null) {
  const e = run.embedding;
  const labels = run.tokens.map((t) => show(t.text));
  const d = e.vectors[0]?.length ?? 0;
  const cell = Math.max(1, cellFor(d, 260, 1, 6));
  const cellH = cellFor(run.tokens.length, 320, 3, 12);
  const m = robustMax(e.vectors);
  const box = $('embedding-maps');
  box.replaceChildren();
  const rope = e.positions === 'rope';
  const hasParts = e.token_vectors.length === run.tokens.length;
  if (hasParts) box.append(map(`token vector (row of the ${info?.model.vocab ?? ''}-token table)`, e.token_vectors, m, labels, cell, cellH));
  if (!rope && e.position_vectors.length === run.tokens.length) {
    box.append(el('div', 'op', '+'), map('position vector (row of the position table)', e.position_vectors, m, labels, cell, cellH), el('div', 'op', '='));
  } else if (rope) {
    box.append(el('div', 'op', '='));
  }
  box.append(map(rope ? 'input to layer 0 (the token vector alone)' : 'input to layer 0', e.vectors, m, labels, cell, cellH));
  box.append(legendElement(divergingLegend(m, 'component value')));
  const note = $('embedding-note');
  if (rope) {
    const hd = info?.model.head_dim ?? 0, theta = e.rope_theta;
    note.textContent = `This model has no position vector. Position enters inside attention through RoPE (rotary position embedding, ` +
      `${e.rope_type} type, base θ = ${theta}): in every layer, each query and key vector is cut into ${hd / 2} pairs of dimensions ` +
      `(2i, 2i+1), and the pair is rotated by the angle position × θ^(−2i/${hd}). Rotating q at position m and k at position n ` +
      `makes q·k depend only on m − n, so attention sees relative positions. The first pairs turn fast (one full turn every ` +
      `${(2 * Math.PI).toFixed(1)} tokens), the last ones slowly (every ${(2 * Math.PI * Math.pow(theta, (hd - 2) / hd)).toExponential(1)} tokens).`;
  } else if (info?.model.family === 'bert') {
    note.textContent = 'BERT adds a token-type vector too and applies a LayerNorm, so the input is LayerNorm(token + position + type).';
  } else {
    note.textContent = 'GPT-2 style: input = token vector + position vector (both learned tables), one row per token.';
  }
  const norms = $('embedding-norms');
  norms.replaceChildren(el('div', 'muted', rope ? '‖input‖' : '‖input‖ (‖token‖, ‖position‖)'));
  run.tokens.forEach((t, i) => {
    const n = `${e.norm[i].toFixed(2)}` + (e.token_norm.length && !rope ? ` (${e.token_norm[i].toFixed(2)}, ${e.position_norm[i]?.toFixed(2) ?? '–'})` : '');
    norms.append(el('div', '', `${show(t.text)}: ${n}`));
  });
}
