// The explainer page: one prompt, one forward pass per plan, every view drawn from its JSON.
import './style.css';
import * as api from './api';
import { Heatmap, cellFor, diverging, sequential } from './heatmap';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = (tag: string, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
// Token text with whitespace made visible.
const show = (t: string) => t.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·') || '∅';

let info: api.Info | null = null;
let fullRun: api.ForwardResult | null = null;
let planRun: api.ForwardResult | null = null;
let comparison: api.CompareResult | null = null;
let appliedPlan: api.PlanSpec = 'full';
let runPrompt = '';
let busy = 0;

function setStatus(text: string, error = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  busy++;
  document.body.classList.add('busy');
  try {
    return await fn();
  } catch (e) {
    setStatus(`${what}: ${(e as Error).message}`, true);
    return undefined;
  } finally {
    if (--busy === 0) document.body.classList.remove('busy');
  }
}

const viewRun = () => planRun ?? fullRun;
const isFull = (p: api.PlanSpec) => p === 'full' || (typeof p === 'object' && p.variant === 'full');
const temperature = () => Number(($('temperature') as HTMLInputElement).value);
const topK = () => Math.max(1, Math.min(50, Number(($('top-k') as HTMLInputElement).value) || 10));

function readPlan(): api.PlanSpec {
  const text = ($('plan-text') as HTMLInputElement).value.trim();
  if (text) return text;
  const variant = ($('plan-variant') as HTMLSelectElement).value;
  if (variant === 'full') return 'full';
  return { variant, n: Number(($('plan-n') as HTMLInputElement).value), k: Number(($('plan-k') as HTMLInputElement).value) };
}

// ---------- tokens and embedding ----------

function renderTokens(run: api.ForwardResult) {
  const box = $('tokens');
  box.replaceChildren();
  $('token-count').textContent = `(${run.tokens.length})`;
  run.tokens.forEach((t, i) => {
    const s = i > 0 ? run.surprisal[i - 1] : undefined;
    const chip = el('span', 'chip token', show(t.text));
    chip.title = `#${i} id ${t.id}` + (s !== undefined ? ` · surprisal ${s.toFixed(2)} nats (p=${Math.exp(-s).toFixed(3)})` : '');
    if (s !== undefined) chip.style.background = `rgba(230,90,40,${Math.min(1, s / 10).toFixed(3)})`;
    box.append(chip);
  });
}

function robustMax(rows: number[][]) {
  const all = rows.flat().map(Math.abs).sort((a, b) => a - b);
  return all.length ? all[Math.floor(0.99 * (all.length - 1))] : 1;
}

let embedMap: Heatmap | null = null;
function renderEmbedding(run: api.ForwardResult) {
  const rows = run.embedding.vectors;
  const cell = Math.max(2, cellFor(rows.length, 200, 2, 10));
  embedMap ??= new Heatmap($('embedding-canvas') as HTMLCanvasElement, {
    cell, scale: sequential,
    onHover: (r, c) => { if (r >= 0) $('embedding-canvas').title = `token #${r} dim ${c}: ${viewRun()?.embedding.vectors[r][c]}`; },
  });
  (embedMap as any).opt.cell = cell;
  embedMap.setScale(diverging(robustMax(rows)));
  embedMap.setData(rows);
  const norms = $('embedding-norms');
  norms.replaceChildren(el('div', 'muted', '‖x‖ (token, position)'));
  run.tokens.forEach((t, i) => {
    const n = `${run.embedding.norm[i].toFixed(2)}` +
      (run.embedding.token_norm.length ? ` (${run.embedding.token_norm[i].toFixed(2)}, ${run.embedding.position_norm[i]?.toFixed(2) ?? '–'})` : '');
    norms.append(el('div', '', `${show(t.text)}: ${n}`));
  });
}

// ---------- attention ----------

let headMaps: Heatmap[] = [];

function currentApplication(): api.Application | null {
  const run = viewRun();
  if (!run) return null;
  const step = run.steps[Number(($('step-slider') as HTMLInputElement).value)] ?? run.steps[0];
  const app = step.applications[Number(($('app-select') as HTMLSelectElement).value)] ?? step.applications[0];
  return app ?? null;
}

function attentionRow(app: api.Application, head: number, q: number): number[] {
  return app.attention?.[head]?.[q] ?? [];
}

function hoverAttention(q: number, k: number, head: number) {
  const run = viewRun();
  const app = currentApplication();
  const chips = Array.from($('attn-tokens').children) as HTMLElement[];
  headMaps.forEach((m) => m.highlight(q, k));
  chips.forEach((c) => { c.style.background = ''; c.classList.remove('query'); });
  if (!run || !app || q < 0) { $('attn-info').textContent = 'hover a token or a cell'; return; }
  // Colour each key token by the attention the query gives it (one head, or the mean over heads).
  const H = app.attention?.length ?? 0;
  const weights = run.tokens.map((_, j) => {
    if (head >= 0) return attentionRow(app, head, q)[j] ?? 0;
    let s = 0;
    for (let h = 0; h < H; h++) s += attentionRow(app, h, q)[j] ?? 0;
    return H ? s / H : 0;
  });
  chips.forEach((c, j) => { c.style.background = `rgba(40,90,220,${Math.min(1, weights[j]).toFixed(3)})`; });
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

function renderApplicationOptions(run: api.ForwardResult) {
  const slider = $('step-slider') as HTMLInputElement;
  const step = run.steps[Number(slider.value)] ?? run.steps[0];
  $('step-label').textContent = `step ${step.index + 1}/${run.steps.length}: ${step.label}`;
  const sel = $('app-select') as HTMLSelectElement;
  sel.replaceChildren();
  step.applications.forEach((a, i) => {
    const o = el('option', '', `layer ${a.layer}` + (step.applications.length > 1 ? ` (member ${a.member}, iteration ${a.iteration + 1})` : '')) as HTMLOptionElement;
    o.value = String(i);
    sel.append(o);
  });
  sel.disabled = step.applications.length < 2;
}

function renderAttention() {
  const run = viewRun();
  const app = currentApplication();
  const heads = $('attn-heads');
  heads.replaceChildren();
  headMaps = [];
  const toks = $('attn-tokens');
  toks.replaceChildren();
  if (!run || !app || !app.attention) return;
  run.tokens.forEach((t, i) => {
    const chip = el('span', 'chip token', show(t.text));
    chip.addEventListener('mouseenter', () => hoverAttention(i, -1, -1));
    chip.addEventListener('mouseleave', () => hoverAttention(-1, -1, -1));
    toks.append(chip);
  });
  const T = run.tokens.length;
  const cell = cellFor(T, 220);
  app.attention.forEach((rows, h) => {
    const box = el('div', 'head');
    const ent = app.attn_entropy[h];
    box.append(el('div', 'muted', `head ${h} · mean entropy ${(ent.reduce((a, b) => a + b, 0) / ent.length).toFixed(2)}`));
    const canvas = document.createElement('canvas');
    canvas.className = 'attn-canvas';
    canvas.dataset.head = String(h);
    box.append(canvas);
    heads.append(box);
    const m = new Heatmap(canvas, { cell, scale: sequential, onHover: (q, k) => hoverAttention(q, k, h) });
    m.setData(rows, T);
    headMaps.push(m);
  });
  renderQkv(run, app);
  renderMlp(run, app);
}

function renderQkv(run: api.ForwardResult, app: api.Application) {
  const table = el('table');
  const head = el('tr');
  head.append(el('th', '', 'token'));
  const H = app.q_norm[0]?.length ?? 0, KV = app.k_norm[0]?.length ?? 0;
  for (let h = 0; h < H; h++) head.append(el('th', '', `‖q${h}‖`));
  for (let h = 0; h < KV; h++) head.append(el('th', '', `‖k${h}‖`));
  for (let h = 0; h < KV; h++) head.append(el('th', '', `‖v${h}‖`));
  head.append(el('th', '', '‖out‖'));
  table.append(head);
  run.tokens.forEach((t, i) => {
    const tr = el('tr');
    tr.append(el('td', '', show(t.text)));
    [...app.q_norm[i], ...app.k_norm[i], ...app.v_norm[i], app.out_norm[i]].forEach((v) => tr.append(el('td', '', v.toFixed(2))));
    table.append(tr);
  });
  $('qkv').replaceChildren(el('div', 'muted', 'Q/K/V: norm of each head\'s vector per token (after RoPE where used)'), table);
}

// ---------- MLP ----------

let mlpMap: Heatmap | null = null;
function renderMlp(run: api.ForwardResult, app: api.Application) {
  const T = run.tokens.length;
  const rows = run.tokens.map((_, t) => app.mlp.values.map((col) => col[t]));
  mlpMap ??= new Heatmap($('mlp-canvas') as HTMLCanvasElement, {
    cell: 12, scale: sequential,
    onHover: (r, c) => {
      const a = currentApplication();
      if (r >= 0 && a) $('mlp-canvas').title = `token #${r}, neuron ${a.mlp.neurons[c]}: ${a.mlp.values[c][r]}`;
    },
  });
  (mlpMap as any).opt.cell = cellFor(Math.max(T, app.mlp.neurons.length), 300, 4, 14);
  mlpMap.setScale(diverging(robustMax(rows)));
  mlpMap.setData(rows);
  const bars = $('mlp-bars');
  bars.replaceChildren(el('div', 'muted', `layer ${app.layer}: mean |act| · active share`));
  const mx = Math.max(...app.mlp.mean_abs, 1e-9);
  run.tokens.forEach((t, i) => {
    const row = el('div', 'bar-row');
    row.append(el('span', 'bar-label', show(t.text)));
    const bar = el('span', 'bar');
    bar.style.width = `${(100 * app.mlp.mean_abs[i] / mx).toFixed(1)}px`;
    row.append(bar, el('span', 'muted', ` ${app.mlp.mean_abs[i].toFixed(3)} · ${(100 * app.mlp.active_frac[i]).toFixed(0)}%`));
    bars.append(row);
  });
}

// ---------- logit lens ----------

function renderLens(run: api.ForwardResult, box: HTMLElement, lastOnly = false) {
  const table = el('table', 'lens-table');
  const T = run.tokens.length;
  const cols = lastOnly ? [T - 1] : run.tokens.map((_, i) => i);
  const head = el('tr');
  head.append(el('th', '', 'step'));
  cols.forEach((i) => head.append(el('th', '', show(run.tokens[i].text))));
  head.append(el('th', '', '‖x‖ last'));
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
    tr.append(el('td', 'muted', s.resid_norm[T - 1].toFixed(1)));
    table.append(tr);
  });
  box.replaceChildren(table);
}

// ---------- output distribution ----------

function renderBars(dist: api.Distribution, box: HTMLElement) {
  box.replaceChildren(el('div', 'muted', `T = ${dist.temperature.toFixed(2)} · entropy ${dist.entropy.toFixed(3)} nats`));
  dist.top.forEach((t) => {
    const row = el('div', 'bar-row');
    row.append(el('span', 'bar-label', show(t.text)));
    const bar = el('span', 'bar prob-bar');
    bar.style.width = `${(300 * t.prob).toFixed(1)}px`;
    row.append(bar, el('span', 'prob', `${(100 * t.prob).toFixed(2)}%`));
    box.append(row);
  });
}

let tempTimer: number | undefined;
async function refreshDistributions() {
  if (!fullRun) return;
  const T = temperature(), k = topK();
  const main = await guard('next-token distribution', () => api.predict(runPrompt, appliedPlan, T, k));
  if (main) renderBars(main, $('output-bars'));
  if (planRun) {
    const full = await guard('next-token distribution', () => api.predict(runPrompt, 'full', T, k));
    const plan = main;
    if (full) renderBars(full, $('compare-full-bars'));
    if (plan) renderBars(plan, $('compare-plan-bars'));
  }
}

// ---------- comparison ----------

function renderCompare() {
  const sec = $('compare-section');
  if (!planRun || !fullRun || !comparison) { sec.hidden = true; return; }
  sec.hidden = false;
  const c = comparison;
  $('compare-summary').textContent =
    `plan ${planRun.plan.text} (${planRun.plan.steps.length} steps, ${planRun.plan.applications} layer applications) vs full model: ` +
    `mean KL ${c.mean_kl.toFixed(4)} nats · top-1 agreement ${(100 * c.top1_agreement).toFixed(1)}% · ` +
    `final-state cosine ${c.mean_final_cosine.toFixed(4)} · ${c.shared_steps} leading steps shared`;
  for (const [id, run, title] of [['compare-full', fullRun, 'Full model'], ['compare-plan', planRun, `Plan ${planRun.plan.text}`]] as const) {
    const col = $(id);
    col.replaceChildren(el('h3', '', title));
    const bars = el('div', 'bars');
    bars.id = `${id}-bars`;
    renderBars(run.final, bars);
    const lens = el('div', 'lens');
    renderLens(run, lens, true);
    const attn = el('div', 'heads');
    attn.id = `${id}-attn`;
    col.append(bars, el('div', 'muted', 'logit lens at the last token'), lens, attn);
  }
  renderCompareAttention();
  const kl = $('compare-kl');
  kl.replaceChildren();
  c.kl.forEach((v, i) => {
    const chip = el('span', 'chip', `${show(c.tokens[i].text)} ${v.toFixed(2)}${c.top1_agree[i] ? ' ✓' : ''}`);
    chip.style.background = `rgba(200,40,120,${Math.min(1, v / 2).toFixed(3)})`;
    chip.title = `position ${i}: KL ${v} nats, final cosine ${c.final_cosine[i]}`;
    kl.append(chip);
  });
}

function renderCompareAttention() {
  const layer = Number(($('compare-layer') as HTMLSelectElement).value);
  for (const [id, run] of [['compare-full-attn', fullRun], ['compare-plan-attn', planRun]] as const) {
    const box = document.getElementById(id);
    if (!box || !run) continue;
    box.replaceChildren();
    const apps = run.steps.flatMap((s) => s.applications.map((a) => ({ s, a }))).filter((x) => x.a.layer === layer);
    if (!apps.length) { box.append(el('div', 'muted', `layer ${layer} does not run in this plan`)); continue; }
    const { s, a } = apps[0];
    box.append(el('div', 'muted', `layer ${layer} at step ${s.index + 1} (${s.label})` + (apps.length > 1 ? `; runs ${apps.length}×, first shown` : '')));
    const T = run.tokens.length;
    (a.attention ?? []).forEach((rows, h) => {
      const wrap = el('div', 'head');
      wrap.append(el('div', 'muted', `head ${h}`));
      const canvas = document.createElement('canvas');
      wrap.append(canvas);
      box.append(wrap);
      new Heatmap(canvas, { cell: cellFor(T, 140, 2, 12), scale: sequential }).setData(rows, T);
    });
  }
}

// ---------- actions ----------

function renderAll() {
  const run = viewRun();
  if (!run) return;
  renderTokens(run);
  renderEmbedding(run);
  const slider = $('step-slider') as HTMLInputElement;
  slider.max = String(run.steps.length - 1);
  if (Number(slider.value) > run.steps.length - 1) slider.value = String(run.steps.length - 1);
  renderApplicationOptions(run);
  renderAttention();
  renderLens(run, $('lens'));
  renderBars(run.final, $('output-bars'));
  renderCompare();
}

async function run() {
  const text = ($('prompt') as HTMLTextAreaElement).value;
  if (!text) { setStatus('type a prompt first', true); return; }
  setStatus('running…');
  const T = temperature(), k = topK();
  const full = await guard('forward', () => api.forward(text, 'full', T, k));
  if (!full) return;
  fullRun = full;
  planRun = null;
  comparison = null;
  runPrompt = text;
  if (!isFull(appliedPlan)) {
    const p = await guard('forward under the plan', () => api.forward(text, appliedPlan, T, k));
    const c = await guard('comparison', () => api.compare(text, appliedPlan));
    if (p && c) { planRun = p; comparison = c; }
  }
  renderAll();
  const shown = viewRun()!;
  setStatus(`${shown.tokens.length} tokens · ${shown.steps.length} steps · ${planRun ? `showing plan ${planRun.plan.text}` : 'full model'} · forward ${shown.elapsed_ms.toFixed(0)} ms`);
  document.body.dataset.ready = String(Date.now());
}

async function applyPlan() {
  const plan = readPlan();
  const preview = $('plan-preview');
  const p = await guard('invalid plan', () => api.planPreview(plan));
  if (!p) { preview.textContent = $('status').textContent; preview.classList.add('error'); return; }
  preview.classList.remove('error');
  preview.textContent = `plan: ${p.text} (${p.steps} steps, ${p.applications} layer applications)`;
  appliedPlan = plan;
  await run();
}

async function sample() {
  if (!fullRun) await run();
  const d = await guard('sample', () => api.predict(runPrompt, appliedPlan, temperature(), topK(), true, Math.floor(Math.random() * 1e9)));
  if (!d?.sampled) return;
  $('sampled').textContent = `sampled "${show(d.sampled.text)}" (id ${d.sampled.id})`;
  ($('prompt') as HTMLTextAreaElement).value = runPrompt + d.sampled.text;
  await run();
}

async function generate() {
  const text = ($('prompt') as HTMLTextAreaElement).value;
  const out = $('gen-output');
  out.textContent = '';
  out.append(el('span', 'prompt-echo', text));
  const n = Number(($('gen-n') as HTMLInputElement).value) || 32;
  const done = await guard('generate', () => api.generate(text, appliedPlan, n, temperature(), (t) => out.append(t)));
  if (done) $('gen-stats').textContent = `${done.tokens} tokens, ${done.tokens_per_s.toFixed(1)} tokens/s`;
}

async function init() {
  const i = await guard('model info', api.info);
  if (!i) return;
  info = i;
  const m = i.model;
  $('model-info').textContent = `${m.dir.split('/').filter(Boolean).pop()} · ${m.family} · ${m.n_layer} layers · d=${m.d_model} · ` +
    `${m.n_head} heads · ${(m.parameters / 1e6).toFixed(1)}M parameters`;
  const sel = $('plan-variant') as HTMLSelectElement;
  i.variants.forEach((v) => { const o = el('option', '', v) as HTMLOptionElement; o.value = v; sel.append(o); });
  const layerSel = $('compare-layer') as HTMLSelectElement;
  for (let l = 0; l < m.n_layer; l++) { const o = el('option', '', `layer ${l}`) as HTMLOptionElement; o.value = String(l); layerSel.append(o); }
  ($('plan-n') as HTMLInputElement).max = String(Math.floor(m.n_layer / 2));
  ($('gen-n') as HTMLInputElement).max = String(i.limits.max_generate_tokens);
  if (!m.causal) ($('generate') as HTMLButtonElement).disabled = true;

  $('run').addEventListener('click', run);
  $('apply-plan').addEventListener('click', applyPlan);
  $('sample').addEventListener('click', sample);
  $('generate').addEventListener('click', generate);
  $('step-slider').addEventListener('input', () => { const r = viewRun(); if (r) { renderApplicationOptions(r); renderAttention(); } });
  $('app-select').addEventListener('change', renderAttention);
  $('compare-layer').addEventListener('change', renderCompareAttention);
  $('temperature').addEventListener('input', () => {
    $('temperature-value').textContent = temperature().toFixed(2);
    window.clearTimeout(tempTimer);
    tempTimer = window.setTimeout(refreshDistributions, 80);
  });
  $('top-k').addEventListener('change', refreshDistributions);
  $('prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(); });
  await run();
}

init();
