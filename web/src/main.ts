// The explainer page: one prompt, one forward pass per plan, every view drawn from its JSON.
// Sections follow the architecture overview at the top (views/overview.ts).
import './style.css';
import * as api from './api';
import { $, el, option, show } from './dom';
import { planError, readPlan, setupPlanEditor } from './plan';
import { hoverAttention, renderAttention, smallAttentionMaps } from './views/attention';
import { renderEmbedding } from './views/embedding';
import { renderHeadSteps } from './views/head_steps';
import { renderMlp } from './views/mlp';
import { renderOverview, renderPlanStrip } from './views/overview';
import { renderLens, renderSimilarity, renderStepChanges } from './views/residual';
import { SCALE_MODES } from './scales';

let info: api.Info | null = null;
let fullRun: api.ForwardResult | null = null;
let planRun: api.ForwardResult | null = null;
let comparison: api.CompareResult | null = null;
let appliedPlan: api.PlanSpec = 'full';
let runPrompt = '';
let busy = 0;
let headRequest = 0;

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
const viewPlan = (): api.PlanSpec => (planRun ? appliedPlan : 'full');
const isFull = (p: api.PlanSpec) => p === 'full' || (typeof p === 'object' && p.variant === 'full');
const value = (id: string) => Number(($(id) as HTMLInputElement).value);
const temperature = () => value('temperature');
const topK = () => Math.max(1, Math.min(50, value('top-k') || 10));
const sampling = (): api.SampleOptions => ({
  top_k: topK(), top_p: Math.max(0.01, Math.min(1, value('top-p') || 1)), seed: Math.max(0, Math.floor(value('seed')) || 0),
});
const stepIndex = () => value('step-slider');

function currentApplication(): { step: number; index: number; app: api.Application } | null {
  const run = viewRun();
  if (!run) return null;
  const step = Math.min(stepIndex(), run.steps.length - 1);
  const apps = run.steps[step].applications;
  const index = Math.min(Number(($('app-select') as HTMLSelectElement).value) || 0, apps.length - 1);
  return apps[index] ? { step, index, app: apps[index] } : null;
}

// ---------- tokens ----------

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

// ---------- step, application, head ----------

function selectStep(k: number) {
  ($('step-slider') as HTMLInputElement).value = String(k);
  renderStep();
}

function renderStep() {
  const run = viewRun();
  if (!run) return;
  const step = run.steps[Math.min(stepIndex(), run.steps.length - 1)];
  $('step-label').textContent = `step ${step.index + 1}/${run.steps.length}: ${step.label}`;
  const sel = $('app-select') as HTMLSelectElement;
  const keep = sel.value;
  sel.replaceChildren(...step.applications.map((a, i) =>
    option(String(i), `layer ${a.layer}` + (step.applications.length > 1 ? ` (member ${a.member}, iteration ${a.iteration + 1})` : ''))));
  if (Number(keep) < step.applications.length) sel.value = keep;
  sel.disabled = step.applications.length < 2;
  renderPlanStrip(run, step.index, selectStep);
  renderApplication();
}

function renderApplication() {
  const run = viewRun();
  const cur = currentApplication();
  if (!run) return;
  renderAttention(run, cur?.app ?? null, (h) => { ($('head-select') as HTMLSelectElement).value = String(h); void loadHead(); });
  if (cur) renderMlp(run, cur.app);
  void loadHead();
}

async function loadHead() {
  const run = viewRun();
  const cur = currentApplication();
  if (!run || !cur) return;
  const head = Number(($('head-select') as HTMLSelectElement).value) || 0;
  const qsel = $('head-query') as HTMLSelectElement;
  if (qsel.options.length !== run.tokens.length) {
    qsel.replaceChildren(...run.tokens.map((t, i) => option(String(i), `#${i} ${show(t.text)}`)));
    qsel.value = String(run.tokens.length - 1);
  }
  const ticket = ++headRequest;
  const d = await guard('attention step by step', () => api.head(runPrompt, viewPlan(), cur.step, cur.index, head));
  if (!d || ticket !== headRequest) return;
  renderHeadSteps(d, Number(qsel.value));
  document.body.dataset.headReady = `${d.layer}:${d.head}:${qsel.value}`;
}

// ---------- next token ----------

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
    if (full) renderBars(full, $('compare-full-bars'));
    if (main) renderBars(main, $('compare-plan-bars'));
  }
}

// ---------- comparison ----------

// The layer the comparison opens on: the first layer the plan runs after the steps it shares
// with the full model (there the two runs differ first), not layer 0.
function firstDifferingLayer(): number {
  if (!planRun || !comparison) return 0;
  const st = planRun.steps[Math.min(comparison.shared_steps, planRun.steps.length - 1)];
  return st?.layers[0] ?? 0;
}

function renderCompare(openLayer: boolean) {
  const sec = $('compare-section');
  if (!planRun || !fullRun || !comparison) { sec.hidden = true; return; }
  sec.hidden = false;
  const c = comparison;
  if (openLayer) ($('compare-layer') as HTMLSelectElement).value = String(firstDifferingLayer());
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
  $('compare-kl').replaceChildren(...c.kl.map((v, i) => {
    const chip = el('span', 'chip', `${show(c.tokens[i].text)} ${v.toFixed(2)}${c.top1_agree[i] ? ' ✓' : ''}`);
    chip.style.background = `rgba(200,40,120,${Math.min(1, v / 2).toFixed(3)})`;
    chip.title = `position ${i}: KL ${v} nats, final cosine ${c.final_cosine[i]}`;
    return chip;
  }));
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
    smallAttentionMaps(box, a.attention ?? [], run.tokens.length);
  }
}

// ---------- actions ----------

function renderAll(newPlan: boolean) {
  const run = viewRun();
  if (!run) return;
  renderTokens(run);
  renderEmbedding(run, info);
  const slider = $('step-slider') as HTMLInputElement;
  slider.max = String(run.steps.length - 1);
  if (stepIndex() > run.steps.length - 1) slider.value = String(run.steps.length - 1);
  renderStep();
  renderLens(run, $('lens'));
  renderStepChanges(run);
  renderBars(run.final, $('output-bars'));
  renderCompare(newPlan);
}

// What belonged to the previous plan or prompt disappears before the new run is shown.
function clearStale() {
  for (const id of ['gen-output', 'gen-stats', 'sampled', 'similarity', 'head-steps', 'head-cell']) $(id).replaceChildren();
  $('compare-section').hidden = true;
}

async function run(newPlan = false) {
  const text = ($('prompt') as HTMLTextAreaElement).value;
  if (!text) { setStatus('type a prompt first', true); return; }
  setStatus('running…');
  if (text !== runPrompt || newPlan) clearStale();  // before awaiting: output started later stays
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
  renderAll(newPlan);
  const shown = viewRun()!;
  setStatus(`${shown.tokens.length} tokens · ${shown.steps.length} steps · ${planRun ? `showing plan ${planRun.plan.text}` : 'full model'} · forward ${shown.elapsed_ms.toFixed(0)} ms`);
  document.body.dataset.ready = String(Date.now());
  const sim = await guard('layer similarity', () => api.similarity([text], viewPlan()));
  if (sim && runPrompt === text) renderSimilarity(sim);
}

async function applyPlan() {
  const preview = $('plan-preview');
  const bad = planError();
  if (bad) { preview.textContent = `invalid plan: ${bad}`; preview.classList.add('error'); return; }
  const plan = readPlan();
  const p = await guard('invalid plan', () => api.planPreview(plan));
  if (!p) { preview.textContent = $('status').textContent; preview.classList.add('error'); return; }
  preview.classList.remove('error');
  preview.textContent = `applied plan: ${p.text} (${p.steps} steps, ${p.applications} layer applications)`;
  appliedPlan = plan;
  await run(true);
}

async function sample() {
  if (!fullRun) await run();
  const o = sampling();
  const d = await guard('sample', () => api.predict(runPrompt, appliedPlan, temperature(), topK(), o));
  if (!d?.sampled) return;
  $('sampled').textContent = `sampled "${show(d.sampled.text)}" (id ${d.sampled.id}) · seed ${o.seed}, T ${temperature().toFixed(2)}, top-k ${o.top_k}, top-p ${o.top_p}`;
  ($('seed') as HTMLInputElement).value = String(o.seed + 1);  // the next sample draws afresh; type a seed to repeat one
  ($('prompt') as HTMLTextAreaElement).value = runPrompt + d.sampled.text;
  const note = $('sampled').textContent;
  await run();
  $('sampled').textContent = note;
}

async function generate() {
  const text = ($('prompt') as HTMLTextAreaElement).value;
  const out = $('gen-output');
  out.replaceChildren(el('span', 'prompt-echo', text));
  const n = value('gen-n') || 32;
  const done = await guard('generate', () => api.generate(text, appliedPlan, n, temperature(), sampling(), (t) => out.append(t)));
  if (done) $('gen-stats').textContent = `${done.tokens} tokens, ${done.tokens_per_s.toFixed(1)} tokens/s`;
}

async function init() {
  const i = await guard('model info', api.info);
  if (!i) return;
  info = i;
  const m = i.model;
  $('model-info').textContent = `${m.dir.split('/').filter(Boolean).pop()} · ${m.family} · ${m.n_layer} layers · d=${m.d_model} · ` +
    `${m.n_head} heads · ${(m.parameters / 1e6).toFixed(1)}M parameters`;
  renderOverview(i);
  setupPlanEditor(i, () => {
    const p = $('plan-preview');
    p.classList.remove('error');
    p.textContent = 'edited: press Apply plan to run it';
  });
  ($('compare-layer') as HTMLSelectElement).replaceChildren(...Array.from({ length: m.n_layer }, (_, l) => option(String(l), `layer ${l}`)));
  ($('head-select') as HTMLSelectElement).replaceChildren(...Array.from({ length: m.n_head }, (_, h) => option(String(h), `head ${h}`)));
  ($('attn-scale') as HTMLSelectElement).replaceChildren(...SCALE_MODES.map((s) => option(s.mode, s.label)));
  ($('gen-n') as HTMLInputElement).max = String(i.limits.max_generate_tokens);
  if (!m.causal) ($('generate') as HTMLButtonElement).disabled = true;

  $('run').addEventListener('click', () => run());
  $('apply-plan').addEventListener('click', applyPlan);
  $('sample').addEventListener('click', sample);
  $('generate').addEventListener('click', generate);
  $('step-slider').addEventListener('input', renderStep);
  $('app-select').addEventListener('change', renderApplication);
  $('head-select').addEventListener('change', () => void loadHead());
  $('head-query').addEventListener('change', () => void loadHead());
  $('attn-scale').addEventListener('change', () => { renderApplication(); renderCompareAttention(); hoverAttention(-1, -1, -1); });
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
