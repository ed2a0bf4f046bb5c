// Attention maps of one layer application: one labelled map per head (rows: query tokens,
// columns: key tokens) on a selectable colour scale with its legend, and token chips that shade
// every key token by the hovered query's attention on the same scale.
import type { Application, ForwardResult } from '../api';
import { $, el, mean, show } from '../dom';
import { Heatmap, cellFor } from '../heatmap';
import { ScaleMode, legendElement, probabilityLegend, ramp, toUnit } from '../scales';

let headMaps: Heatmap[] = [];
let shown: { run: ForwardResult; app: Application } | null = null;

export const scaleMode = () => (($('attn-scale') as HTMLSelectElement).value || 'sqrt') as ScaleMode;
const rowMax = (row: number[]) => row.reduce((m, v) => Math.max(m, v), 0);

// A colour function for attention rows [query][key] under the current scale.
export function attentionColour(rows: number[][], mode: ScaleMode) {
  const maxima = rows.map(rowMax);
  return (v: number, r: number) => ramp(toUnit(mode, v, maxima[r]));
}

function weightsOf(app: Application, head: number, q: number, T: number): number[] {
  const H = app.attention?.length ?? 0;
  return Array.from({ length: T }, (_, j) => {
    if (head >= 0) return app.attention?.[head]?.[q]?.[j] ?? 0;
    let s = 0;
    for (let h = 0; h < H; h++) s += app.attention?.[h]?.[q]?.[j] ?? 0;
    return H ? s / H : 0;
  });
}

export function hoverAttention(q: number, k: number, head: number) {
  const chips = Array.from($('attn-tokens').children) as HTMLElement[];
  headMaps.forEach((m) => m.highlight(q, k));
  chips.forEach((c) => { c.style.background = ''; c.style.color = ''; c.classList.remove('query'); });
  if (!shown || q < 0) { $('attn-info').textContent = 'hover a token or a cell'; return; }
  const { run, app } = shown;
  const T = run.tokens.length;
  const weights = weightsOf(app, head, q, T);
  // The same scale as the maps, so small weights stay visible; text turns white on dark cells.
  const mode = scaleMode(), mx = rowMax(weights);
  chips.forEach((c, j) => {
    const u = j <= q || !run.causal ? toUnit(mode, weights[j], mx) : 0;
    c.style.background = ramp(u);
    c.style.color = u > 0.55 ? '#fff' : '';
    c.title = `attention ${weights[j].toFixed(4)}`;
  });
  chips[q]?.classList.add('query');
  const who = head >= 0 ? `head ${head}` : 'mean over heads';
  const qt = show(run.tokens[q].text);
  if (k >= 0 && head >= 0)
    $('attn-info').textContent = `layer ${app.layer}, ${who}: query "${qt}" (#${q}) → key "${show(run.tokens[k].text)}" (#${k}): ${(weights[k] ?? 0).toFixed(4)}`;
  else {
    const best = weights.indexOf(Math.max(...weights));
    $('attn-info').textContent = `layer ${app.layer}, ${who}: query "${qt}" (#${q}) attends most to "${show(run.tokens[best].text)}" (#${best}, ${weights[best].toFixed(3)})`;
  }
}

export function renderAttention(run: ForwardResult, app: Application | null, onHead: (h: number) => void) {
  const heads = $('attn-heads');
  heads.replaceChildren();
  headMaps = [];
  const toks = $('attn-tokens');
  toks.replaceChildren();
  shown = app ? { run, app } : null;
  const legendBox = $('attn-legend');
  legendBox.replaceChildren(legendElement(probabilityLegend(scaleMode())));
  if (!app || !app.attention) return;
  run.tokens.forEach((t, i) => {
    const chip = el('span', 'chip token', show(t.text));
    chip.addEventListener('mouseenter', () => hoverAttention(i, -1, -1));
    chip.addEventListener('mouseleave', () => hoverAttention(-1, -1, -1));
    toks.append(chip);
  });
  const T = run.tokens.length;
  const labels = run.tokens.map((t) => show(t.text));
  const cell = cellFor(T, 300, 2, 16);
  app.attention.forEach((rows, h) => {
    const box = el('div', 'head');
    box.append(el('div', 'muted', `head ${h} · mean entropy ${mean(app.attn_entropy[h]).toFixed(2)} nats`));
    const canvas = document.createElement('canvas');
    canvas.className = 'attn-canvas';
    canvas.dataset.head = String(h);
    canvas.title = 'click: this head step by step';
    canvas.addEventListener('click', () => onHead(h));
    box.append(canvas);
    heads.append(box);
    const m = new Heatmap(canvas, { cell, colour: attentionColour(rows, scaleMode()), rowLabels: labels, colLabels: labels,
                                    onHover: (q, k) => hoverAttention(q, k, h) });
    m.setData(rows, T);
    headMaps.push(m);
  });
}

// Small maps of one layer's heads (the comparison columns), on the same scale.
export function smallAttentionMaps(box: HTMLElement, rows3: number[][][], T: number) {
  rows3.forEach((rows, h) => {
    const wrap = el('div', 'head');
    wrap.append(el('div', 'muted', `head ${h}`));
    const canvas = document.createElement('canvas');
    wrap.append(canvas);
    box.append(wrap);
    new Heatmap(canvas, { cell: cellFor(T, 160, 2, 12), colour: attentionColour(rows, scaleMode()) }).setData(rows, T);
  });
}
