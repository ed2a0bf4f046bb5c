// The architecture overview the page is organised around: the model's data flow from tokens to
// the next-token distribution, each stage a link to its section, and the current plan as a strip
// of steps (click one to show it in the attention, MLP and step-by-step views).
import type { ForwardResult, Info } from '../api';
import { $, el } from '../dom';

function stage(title: string, sub: string, target: string, cls = '') {
  const a = el('a', `stage ${cls}`) as HTMLAnchorElement;
  a.href = `#${target}`;
  a.append(el('div', 'stage-title', title), el('div', 'stage-sub', sub));
  return a;
}

export function renderOverview(info: Info) {
  const m = info.model;
  const rope = m.positions === 'rope';
  const norm = m.norm === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm';
  const act = m.activation.startsWith('silu') || m.activation.includes('glu') ? 'SwiGLU' : m.activation.toUpperCase();
  const arrow = () => el('div', 'arrow', '→');
  const block = el('div', 'block');
  block.append(el('div', 'block-title', `transformer block × ${m.n_layer} (the plan decides which run, in which order)`));
  const inner = el('div', 'flow');
  inner.append(
    stage(m.post_norm ? 'attention' : `${norm} → attention`, `${m.n_head} heads` + (m.n_kv_head !== m.n_head ? ` (${m.n_kv_head} K/V)` : '') +
          ` · d_head ${m.head_dim}` + (rope ? ' · RoPE on Q, K' : ''), 'attention-section'),
    stage('step by step', 'Q Kᵀ → ÷√d → mask → softmax → × V', 'head-section', 'minor'),
    el('div', 'arrow', '+ residual →'),
    stage(m.post_norm ? 'MLP' : `${norm} → MLP`, `${m.d_model} → ${m.d_ff} → ${m.d_model} · ${act}`, 'mlp-section'),
    el('div', 'arrow', '+ residual'),
  );
  block.append(inner);
  const flow = $('overview-flow');
  flow.replaceChildren(
    stage('tokens', `${m.vocab} in the vocabulary`, 'tokens-section'), arrow(),
    stage('embedding', rope ? 'token vector (RoPE: no position vector)' : 'token + position vector', 'embedding-section'), arrow(),
    block, arrow(),
    stage('residual stream', 'logit lens · ‖Δ‖ · cos · similarity', 'lens-section'), arrow(),
    stage(`final ${norm} → head`, `${m.d_model} → ${m.vocab} logits`, 'output-section'), arrow(),
    stage('next token', 'softmax(logits / T) · top-k · top-p · sample', 'output-section'),
  );
}

// The plan's steps as chips; the selected one is marked.
export function renderPlanStrip(run: ForwardResult, selected: number, onSelect: (k: number) => void) {
  const strip = $('plan-strip');
  strip.replaceChildren(el('span', 'muted', `plan ${run.plan.text}: `));
  run.steps.forEach((s, k) => {
    const chip = el('button', 'chip step-chip' + (k === selected ? ' selected' : ''), s.label);
    chip.title = `step ${k + 1}: ${s.label}` + (s.applications.length > 1 ? ` (${s.applications.length} layer applications)` : '');
    chip.addEventListener('click', () => onSelect(k));
    strip.append(chip);
  });
}
