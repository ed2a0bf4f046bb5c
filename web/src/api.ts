// Typed calls to the layerlab explainer API (docs/EXPLAINER.md).

export interface TokenInfo { id: number; text: string }
export interface LensEntry { id: number; text: string; prob: number }
export interface Distribution {
  temperature: number;
  top: { id: number; text: string; logit: number; prob: number }[];
  entropy: number;
  position: number;
  sampled?: TokenInfo;
}
export interface Application {
  layer: number; member: number; iteration: number;
  attention?: number[][][];          // [head][query][key <= query]
  attn_entropy: number[][];          // [head][query]
  q_norm: number[][]; k_norm: number[][]; v_norm: number[][];  // [token][head]
  mlp: { mean_abs: number[]; active_frac: number[]; neurons: number[]; values: number[][] };
  out_norm: number[];
}
export interface Step {
  index: number; label: string; layers: number[]; iterations: number;
  resid_norm: number[]; delta_norm: number[]; cos_prev: number[];
  lens?: LensEntry[][];
  applications: Application[];
}
export interface PlanInfo { text: string; steps: { label: string; layers: number[]; iterations: number }[]; applications: number }
export interface ForwardResult {
  tokens: TokenInfo[]; plan: PlanInfo; causal: boolean;
  embedding: { vectors: number[][]; norm: number[]; token_norm: number[]; position_norm: number[];
               token_vectors: number[][]; position_vectors: number[][]; positions: 'learned' | 'rope';
               rope_theta: number; rope_type: string };
  steps: Step[]; final: Distribution; surprisal: number[]; elapsed_ms: number;
}
export interface CompareResult {
  kl: number[]; top1_agree: boolean[]; final_cosine: number[];
  mean_kl: number; top1_agreement: number; mean_final_cosine: number; shared_steps: number;
  tokens: TokenInfo[];
}
export interface Info {
  model: { family: string; model_type: string; n_layer: number; d_model: number; n_head: number; n_kv_head: number;
           d_ff: number; vocab: number; max_positions: number; parameters: number; dir: string; causal: boolean;
           head_dim: number; activation: string; positions: 'learned' | 'rope'; rope_theta: number; norm: string;
           post_norm: boolean; block: string };
  variants: string[]; tokenizer: boolean; default_add_special: boolean;
  limits: { max_prompt_tokens: number; max_generate_tokens: number; max_top_k: number };
}
// One head of one layer application, step by step (POST /api/head).
export interface HeadDetail {
  layer: number; member: number; iteration: number; head: number; kv_head: number; head_dim: number;
  scale: number; causal: boolean; rope: boolean; shaped: boolean; tokens: TokenInfo[];
  q: number[][]; k: number[][]; v?: number[][];   // [token][head_dim], after RoPE where used
  scores: number[][];                              // q_i . k_j, every pair [query][key]
  probs: number[][];                               // the model's attention weights [query][key]
  output?: number[][];                             // sum_j probs_ij v_j
}
export interface SimilarityResult { labels: string[]; matrix: number[][]; tokens: number }
export interface SampleOptions { top_k: number; top_p: number; seed: number }

export type PlanSpec = string | { variant: string; n?: number; k?: number; seed?: number };

export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

async function call<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  let data: any;
  try { data = JSON.parse(text); } catch { throw new ApiError(res.status, `${path}: HTTP ${res.status}: ${text.slice(0, 200)}`); }
  if (!res.ok) throw new ApiError(res.status, data.error ?? `HTTP ${res.status}`);
  return data as T;
}

export const info = () => call<Info>('/api/info');
export const planPreview = (plan: PlanSpec) => call<{ text: string; steps: number; applications: number }>('/api/plan', { plan });
export const forward = (text: string, plan: PlanSpec, temperature: number, top_k: number) =>
  call<ForwardResult>('/api/forward', { text, plan, temperature, top_k });
export const predict = (text: string, plan: PlanSpec, temperature: number, top_k: number, sampling?: SampleOptions) =>
  call<Distribution>('/api/predict', sampling
    ? { text, plan, temperature, top_k, sample: true, sample_top_k: sampling.top_k, top_p: sampling.top_p, seed: sampling.seed }
    : { text, plan, temperature, top_k });
export const head = (text: string, plan: PlanSpec, step: number, application: number, headIndex: number) =>
  call<HeadDetail>('/api/head', { text, plan, step, application, head: headIndex });
export const compare = (text: string, plan: PlanSpec) => call<CompareResult>('/api/compare', { text, plan });

// Streams /api/generate's server-sent events; onToken gets each piece of new text.
export async function generate(text: string, plan: PlanSpec, max_tokens: number, temperature: number,
                               sampling: SampleOptions, onToken: (text: string) => void): Promise<{ tokens: number; tokens_per_s: number }> {
  const res = await fetch('/api/generate', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text, plan, max_tokens, temperature, top_k: sampling.top_k, top_p: sampling.top_p, seed: sampling.seed }),
  });
  if (!res.ok || !res.body) {
    const t = await res.text();
    let msg = `HTTP ${res.status}`;
    try { msg = JSON.parse(t).error; } catch { /* not JSON */ }
    throw new ApiError(res.status, msg);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let done: any = null;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      if (event === 'token') onToken(data.text);
      else if (event === 'done') done = data;
      else if (event === 'error') throw new ApiError(500, data.error);
    }
  }
  if (!done) throw new ApiError(500, 'generation stream ended early');
  return done;
}

// Cosine similarity between the states after every pair of plan steps (POST /api/similarity).
export const similarity = (texts: string[], plan: PlanSpec) => call<SimilarityResult>('/api/similarity', { texts, plan });
