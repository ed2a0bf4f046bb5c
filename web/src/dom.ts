// Small DOM helpers shared by the views.
export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
export const el = (tag: string, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
// Token text with whitespace made visible.
export const show = (t: string) => t.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·') || '∅';
export const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
export const option = (value: string, text: string) => {
  const o = el('option', '', text) as HTMLOptionElement;
  o.value = value;
  return o;
};
