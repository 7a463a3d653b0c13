// Messages per second over the last 60 seconds, drawn on a canvas: one bar per second.
// The canvas carries data-total (messages counted) and data-max (tallest bar) for tests.

const SECONDS = 60;

export class RateChart {
  constructor(canvas, rateLabel) {
    this.canvas = canvas;
    this.rateLabel = rateLabel;
    this.buckets = new Map(); // second (epoch) -> count
    this.total = 0;
    this.draw();
    setInterval(() => this.draw(), 1000);
  }

  count(atMs = Date.now()) {
    const s = Math.floor(atMs / 1000);
    this.buckets.set(s, (this.buckets.get(s) || 0) + 1);
    this.total += 1;
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.draw();
      });
    }
  }

  draw() {
    const now = Math.floor(Date.now() / 1000);
    for (const s of this.buckets.keys()) if (s <= now - SECONDS) this.buckets.delete(s);
    const values = [];
    for (let s = now - SECONDS + 1; s <= now; s++) values.push(this.buckets.get(s) || 0);
    const max = Math.max(0, ...values);

    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || c.width;
    const h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const top = Math.max(5, niceCeil(max));
    const padL = 34, padB = 16, padT = 6;
    const plotW = w - padL - 4, plotH = h - padB - padT;
    // Grid and axis labels.
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#6b7385";
    g.strokeStyle = "#e5e7eb";
    g.lineWidth = 1;
    for (const v of [0, top / 2, top]) {
      const y = padT + plotH - (v / top) * plotH + 0.5;
      g.beginPath();
      g.moveTo(padL, y);
      g.lineTo(w - 4, y);
      g.stroke();
      g.fillText(String(v), 4, y + 4);
    }
    g.fillText("-60 s", padL, h - 3);
    g.fillText("now", w - 26, h - 3);
    // Bars.
    const bw = plotW / SECONDS;
    g.fillStyle = "#2563eb";
    values.forEach((v, i) => {
      if (!v) return;
      const bh = (v / top) * plotH;
      g.fillRect(padL + i * bw + 1, padT + plotH - bh, Math.max(1, bw - 2), bh);
    });
    c.dataset.total = String(this.total);
    c.dataset.max = String(max);
    this.rateLabel.textContent = String(values[values.length - 1]);
  }
}

function niceCeil(v) {
  if (v <= 0) return 0;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
