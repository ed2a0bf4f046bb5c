// The plan editor as one control: a variant menu whose last entry is "plan text". Choosing a
// variant writes its expansion into the text box (so the box always shows what will run);
// typing in the box switches the menu to "plan text". N is limited to the valid range for the
// model (0 <= N < n_layer / 2); K applies to looped_parallel only, the seed to shuffle only.
import * as api from './api';
import { $, option } from './dom';

export const TEXT = 'text';
let nLayer = 0;
const variantSel = () => $('plan-variant') as HTMLSelectElement;
const num = (id: string) => Number(($(id) as HTMLInputElement).value);

export const maxN = () => Math.max(0, Math.floor((nLayer - 1) / 2));

export function setupPlanEditor(info: api.Info, onEdited: () => void) {
  nLayer = info.model.n_layer;
  const sel = variantSel();
  info.variants.forEach((v) => sel.append(option(v, v)));
  sel.append(option(TEXT, 'plan text …'));
  const n = $('plan-n') as HTMLInputElement;
  n.max = String(maxN());
  n.value = String(Math.min(Number(n.value) || 0, maxN()));
  $('plan-n-range').textContent = `0…${maxN()}`;
  sel.addEventListener('change', () => { syncEnabled(); void fillText(); onEdited(); });
  for (const id of ['plan-n', 'plan-k', 'plan-seed']) $(id).addEventListener('input', () => { void fillText(); onEdited(); });
  $('plan-text').addEventListener('input', () => { sel.value = TEXT; syncEnabled(); onEdited(); });
  syncEnabled();
}

function syncEnabled() {
  const v = variantSel().value;
  ($('plan-n') as HTMLInputElement).disabled = v === 'full' || v === TEXT;
  ($('plan-k') as HTMLInputElement).disabled = v !== 'looped_parallel';
  ($('plan-seed') as HTMLInputElement).disabled = v !== 'shuffle';
}

// Null when N is outside the valid range (the message says why).
export function planError(): string | null {
  const v = variantSel().value;
  if (v === 'full' || v === TEXT) return v === TEXT && !($('plan-text') as HTMLInputElement).value.trim() ? 'type a plan' : null;
  const n = num('plan-n');
  if (!Number.isInteger(n) || n < 0 || n > maxN())
    return `N must be a whole number from 0 to ${maxN()} (N first and N last layers kept; ${nLayer} layers)`;
  if (v === 'looped_parallel' && !(Number.isInteger(num('plan-k')) && num('plan-k') >= 1)) return 'K must be at least 1';
  return null;
}

export function readPlan(): api.PlanSpec {
  const v = variantSel().value;
  if (v === TEXT) return ($('plan-text') as HTMLInputElement).value.trim();
  if (v === 'full') return 'full';
  const spec: { variant: string; n: number; k?: number; seed?: number } = { variant: v, n: num('plan-n') };
  if (v === 'looped_parallel') spec.k = num('plan-k');
  if (v === 'shuffle') spec.seed = num('plan-seed');
  return spec;
}

// Writes the chosen variant's expansion into the text box.
async function fillText() {
  const v = variantSel().value;
  if (v === TEXT || planError()) return;
  try {
    const p = await api.planPreview(readPlan());
    if (variantSel().value === v) ($('plan-text') as HTMLInputElement).value = p.text;
  } catch { /* shown when applied */ }
}
