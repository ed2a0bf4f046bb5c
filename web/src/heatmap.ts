// Canvas heatmaps (fast for hundreds of rows) with cell hover callbacks.

export type Scale = (v: number) => string;

// 0 -> white, 1 -> deep blue.
export const sequential: Scale = (v) => {
  const t = Math.max(0, Math.min(1, v));
  return `rgb(${Math.round(255 - 225 * t)},${Math.round(255 - 190 * t)},${Math.round(255 - 80 * t)})`;
};

// Diverging around 0 within [-m, m]: blue negative, red positive.
export function diverging(m: number): Scale {
  const s = m > 0 ? m : 1;
  return (v) => {
    const t = Math.max(-1, Math.min(1, v / s));
    if (t >= 0) return `rgb(255,${Math.round(255 - 200 * t)},${Math.round(255 - 200 * t)})`;
    return `rgb(${Math.round(255 + 200 * t)},${Math.round(255 + 200 * t)},255)`;
  };
}

export interface HeatmapOptions {
  cell: number;                                   // pixels per cell
  scale: Scale;
  onHover?: (row: number, col: number) => void;   // -1, -1 when the pointer leaves
}

// A heatmap of a ragged matrix (missing entries are drawn empty).
export class Heatmap {
  readonly canvas: HTMLCanvasElement;
  private rows: number[][] = [];
  private highlightRow = -1;
  private highlightCol = -1;

  constructor(canvas: HTMLCanvasElement, private opt: HeatmapOptions) {
    this.canvas = canvas;
    canvas.addEventListener('mousemove', (e) => {
      const r = canvas.getBoundingClientRect();
      const row = Math.floor((e.clientY - r.top) / this.opt.cell);
      const col = Math.floor((e.clientX - r.left) / this.opt.cell);
      if (row >= 0 && row < this.rows.length && col >= 0 && col < this.width()) this.opt.onHover?.(row, col);
    });
    canvas.addEventListener('mouseleave', () => this.opt.onHover?.(-1, -1));
  }

  private width() { return this.rows.reduce((m, r) => Math.max(m, r.length), 0); }

  setData(rows: number[][], cols?: number) {
    this.rows = rows;
    const w = cols ?? this.width();
    this.canvas.width = Math.max(1, w * this.opt.cell);
    this.canvas.height = Math.max(1, rows.length * this.opt.cell);
    this.draw();
  }

  setScale(scale: Scale) { this.opt.scale = scale; this.draw(); }

  highlight(row: number, col: number) { this.highlightRow = row; this.highlightCol = col; this.draw(); }

  draw() {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const c = this.opt.cell;
    ctx.fillStyle = '#fafafa';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.rows.forEach((row, i) => row.forEach((v, j) => {
      ctx.fillStyle = this.opt.scale(v);
      ctx.fillRect(j * c, i * c, c, c);
    }));
    ctx.strokeStyle = '#e0301e';
    ctx.lineWidth = 2;
    if (this.highlightRow >= 0) ctx.strokeRect(1, this.highlightRow * c + 1, this.canvas.width - 2, c - 2);
    if (this.highlightCol >= 0) ctx.strokeRect(this.highlightCol * c + 1, 1, c - 2, this.canvas.height - 2);
  }
}

// Cell size that keeps a matrix of n cells across within about `target` pixels.
export const cellFor = (n: number, target = 260, min = 3, max = 22) => Math.max(min, Math.min(max, Math.floor(target / Math.max(1, n))));
