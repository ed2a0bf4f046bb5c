// Canvas heatmaps (fast for hundreds of rows) with row / column labels and cell hover callbacks.
// Labels are drawn on the canvas beside the cells, so rows and their labels cannot drift apart;
// when cells are too small for every label, every n-th one is drawn ("#i text").

export type CellColour = (v: number, row: number, col: number) => string;

export interface HeatmapOptions {
  cell: number;                                   // pixels per cell (its width, and its height unless cellH)
  cellH?: number;                                 // pixels per row, for matrices much wider than tall
  colour: CellColour;
  rowLabels?: string[];
  colLabels?: string[];
  onHover?: (row: number, col: number) => void;   // -1, -1 when the pointer leaves
}

const FONT = '10px ui-monospace, monospace';
const LINE = 11;  // pixels one label needs

// A heatmap of a ragged matrix (missing entries are drawn empty).
export class Heatmap {
  readonly canvas: HTMLCanvasElement;
  private rows: number[][] = [];
  private cols = 0;
  private left = 0;
  private top = 0;
  private highlightRow = -1;
  private highlightCol = -1;

  constructor(canvas: HTMLCanvasElement, private opt: HeatmapOptions) {
    this.canvas = canvas;
    canvas.addEventListener('mousemove', (e) => {
      const [row, col] = this.cellAt(e.clientX, e.clientY);
      if (row >= 0 && row < this.rows.length && col >= 0 && col < this.cols) this.opt.onHover?.(row, col);
    });
    canvas.addEventListener('mouseleave', () => this.opt.onHover?.(-1, -1));
  }

  update(opt: Partial<HeatmapOptions>) { Object.assign(this.opt, opt); }

  // Cell under a client point (CSS pixels; the canvas is drawn at device resolution).
  cellAt(x: number, y: number): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [Math.floor((y - r.top - this.top) / this.rowH()), Math.floor((x - r.left - this.left) / this.opt.cell)];
  }

  setData(rows: number[][], cols?: number) {
    this.rows = rows;
    this.cols = cols ?? rows.reduce((m, r) => Math.max(m, r.length), 0);
    const ctx = this.canvas.getContext('2d');
    const width = (labels?: string[]) => {
      if (!labels?.length || !ctx) return 0;
      ctx.font = FONT;
      return Math.min(110, 8 + Math.max(...labels.map((l, i) => ctx.measureText(this.label(labels, i)).width)));
    };
    this.left = width(this.opt.rowLabels);
    this.top = width(this.opt.colLabels);
    const c = this.opt.cell;
    const w = Math.max(1, this.left + this.cols * c), h = Math.max(1, this.top + rows.length * this.rowH());
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    // Where the cells start, for tests and tools: data-left, data-top, data-cell (CSS pixels).
    this.canvas.dataset.left = String(this.left);
    this.canvas.dataset.top = String(this.top);
    this.canvas.dataset.cell = String(c);
    this.canvas.dataset.cellH = String(this.rowH());
    this.draw();
  }

  highlight(row: number, col: number) { this.highlightRow = row; this.highlightCol = col; this.draw(); }

  private rowH() { return this.opt.cellH ?? this.opt.cell; }
  private every() { return Math.max(1, Math.ceil(LINE / Math.max(1, this.opt.cellH ?? this.opt.cell))); }
  private label(labels: string[], i: number) {
    const t = labels[i] ?? '';
    const s = t.length > 12 ? t.slice(0, 11) + '…' : t;
    return this.every() > 1 ? `${s} #${i}` : s;
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const c = this.opt.cell, ch = this.rowH(), L = this.left, Tp = this.top;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.fillStyle = '#f3f3f3';
    ctx.fillRect(L, Tp, this.cols * c, this.rows.length * ch);
    this.rows.forEach((row, i) => row.forEach((v, j) => {
      ctx.fillStyle = this.opt.colour(v, i, j);
      ctx.fillRect(L + j * c, Tp + i * ch, c, ch);
    }));
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const step = this.every();
    const { rowLabels, colLabels } = this.opt;
    if (rowLabels) {
      ctx.textAlign = 'right';
      for (let i = 0; i < this.rows.length; i += step) {
        ctx.fillStyle = i === this.highlightRow ? '#e0301e' : '#333';
        ctx.fillText(this.label(rowLabels, i), L - 4, Tp + (i + 0.5) * ch);
      }
    }
    if (colLabels) {
      ctx.save();
      ctx.translate(L, Tp);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      const colStep = Math.max(1, Math.ceil(LINE / Math.max(1, c)));
      for (let j = 0; j < this.cols; j += colStep) {
        ctx.fillStyle = j === this.highlightCol ? '#e0301e' : '#333';
        ctx.fillText(this.label(colLabels, j), 4, (j + 0.5) * c);
      }
      ctx.restore();
    }
    // Hover: the query row and key column outlined in a colour no cell has.
    ctx.strokeStyle = '#e0301e';
    ctx.lineWidth = Math.max(1, Math.min(2, c / 3));
    const w = this.cols * c, h = this.rows.length * ch;
    if (this.highlightRow >= 0) ctx.strokeRect(L + 0.5, Tp + this.highlightRow * ch + 0.5, w - 1, ch - 1);
    if (this.highlightCol >= 0) ctx.strokeRect(L + this.highlightCol * c + 0.5, Tp + 0.5, c - 1, h - 1);
  }
}

// Cell size that keeps a matrix of n cells across within about `target` pixels.
export const cellFor = (n: number, target = 260, min = 3, max = 22) => Math.max(min, Math.min(max, Math.floor(target / Math.max(1, n))));
