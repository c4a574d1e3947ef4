/**
 * The conversion dashboard: one self-contained HTML page (inline CSS and JS, SVG charts, no
 * external assets, no build step) that polls `GET /v1/stats`. Kept as a string so it ships
 * inside the package and is served from memory.
 */
export function dashboardHtml(): string {
  return PAGE;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Guestmode dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f6f7fb; --card: #fff; --ink: #1f2433; --muted: #6b7285; --line: #e3e6ee;
    --created: #6366f1; --merged: #10b981; --expired: #f59e0b; --active: #0ea5e9;
    --p50: #6366f1; --p95: #ef4444;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--ink);
    font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  header { display: flex; align-items: baseline; justify-content: space-between; gap: 16px;
    padding: 20px 28px 8px; }
  h1 { font-size: 20px; margin: 0; letter-spacing: -0.01em; }
  h1 span { color: var(--muted); font-weight: 400; }
  #status { color: var(--muted); font-size: 12px; }
  #status.error { color: #b91c1c; }
  main { padding: 8px 28px 28px; display: grid; gap: 16px; grid-template-columns: repeat(4, 1fr); }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
  .kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .kpi .value { font-size: 28px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
  .kpi .note { color: var(--muted); font-size: 12px; }
  .kpi { border-top: 4px solid var(--c); }
  .wide { grid-column: span 4; }
  .half { grid-column: span 2; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  .legend { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin-bottom: 4px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
  svg { display: block; width: 100%; height: auto; }
  svg text { font-size: 11px; fill: var(--muted); font-family: inherit; }
  .funnel text.name { fill: var(--ink); font-size: 12px; font-weight: 600; }
  .funnel text.count { fill: var(--ink); font-size: 12px; font-variant-numeric: tabular-nums; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr 1fr; } .wide, .half { grid-column: span 2; } }
</style>
</head>
<body>
<header>
  <h1>Guestmode <span>conversion dashboard</span></h1>
  <div id="status">loading…</div>
</header>
<main>
  <div class="card kpi" style="--c: var(--created)"><div class="label">Guests created</div><div class="value" id="kpi-created">–</div><div class="note">all time</div></div>
  <div class="card kpi" style="--c: var(--merged)"><div class="label">Converted</div><div class="value" id="kpi-merged">–</div><div class="note" id="kpi-rate">merged into an account</div></div>
  <div class="card kpi" style="--c: var(--expired)"><div class="label">Expired</div><div class="value" id="kpi-expired">–</div><div class="note">never signed in</div></div>
  <div class="card kpi" style="--c: var(--active)"><div class="label">Active</div><div class="value" id="kpi-active">–</div><div class="note">guests right now</div></div>
  <section class="card wide">
    <h2>Funnel</h2>
    <svg id="funnel" class="funnel" viewBox="0 0 960 150" role="img" aria-label="Conversion funnel"></svg>
  </section>
  <section class="card half">
    <h2>Guests over time</h2>
    <div class="legend"><span><i style="background:var(--created)"></i>created</span><span><i style="background:var(--merged)"></i>converted</span><span><i style="background:var(--expired)"></i>expired</span><span><i style="background:var(--active)"></i>active</span></div>
    <svg id="chart-guests" viewBox="0 0 460 220" role="img" aria-label="Guests over time"></svg>
  </section>
  <section class="card half">
    <h2>Merge latency</h2>
    <div class="legend"><span><i style="background:var(--p50)"></i>p50 (ms)</span><span><i style="background:var(--p95)"></i>p95 (ms)</span><span><i style="background:#cbd5e1"></i>merges per interval</span></div>
    <svg id="chart-latency" viewBox="0 0 460 220" role="img" aria-label="Merge latency over time"></svg>
  </section>
</main>
<script>
(() => {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const fmt = new Intl.NumberFormat();

  function el(parent, tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) if (m * p >= value) return m * p;
    return 10 * p;
  }
  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  function label(value) {
    return value >= 100 || Number.isInteger(value) ? fmt.format(Math.round(value)) : value.toFixed(1);
  }

  function funnel(totals) {
    const svg = document.getElementById('funnel');
    clear(svg);
    const rows = [
      ['Created', totals.created, '--created'],
      ['Converted', totals.merged, '--merged'],
      ['Expired', totals.expired, '--expired'],
      ['Active', totals.active, '--active'],
    ];
    const max = Math.max(1, totals.created);
    const left = 110, right = 120, width = 960 - left - right, h = 26, gap = 10;
    rows.forEach(([name, count, color], i) => {
      const y = 6 + i * (h + gap);
      el(svg, 'text', { x: 0, y: y + h / 2 + 4, class: 'name' }, name);
      el(svg, 'rect', { x: left, y, width, height: h, rx: 5, fill: '#eef0f6' });
      const w = Math.max(count > 0 ? 3 : 0, (width * count) / max);
      el(svg, 'rect', { x: left, y, width: w, height: h, rx: 5, fill: css(color), class: 'bar' });
      const share = totals.created > 0 ? ' (' + ((100 * count) / totals.created).toFixed(1) + '%)' : '';
      el(svg, 'text', { x: left + width + 10, y: y + h / 2 + 4, class: 'count' }, fmt.format(count) + share);
    });
  }

  function lineChart(svg, samples, series, options) {
    clear(svg);
    const W = 460, H = 220, L = 44, R = 12, T = 10, B = 26;
    const pw = W - L - R, ph = H - T - B;
    let top = 0;
    for (const s of series) for (const p of samples) { const v = s.value(p); if (v != null && v > top) top = v; }
    const bars = options.bars;
    let barTop = 0;
    if (bars) for (const p of samples) barTop = Math.max(barTop, bars(p));
    top = niceMax(top);
    barTop = niceMax(barTop);
    for (let i = 0; i <= 4; i++) {
      const y = T + ph - (ph * i) / 4;
      el(svg, 'line', { x1: L, x2: W - R, y1: y, y2: y, stroke: css('--line'), 'stroke-width': 1 });
      el(svg, 'text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, label((top * i) / 4));
    }
    if (samples.length === 0) {
      el(svg, 'text', { x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle' }, 'waiting for the first sample…');
      return;
    }
    const t0 = samples[0].at, t1 = samples[samples.length - 1].at;
    // Inset so the first and last bars and dots stay inside the plot.
    const pad = options.bars ? 9 : 4;
    const x = (t) => (t1 === t0 ? L + pw / 2 : L + pad + ((t - t0) / (t1 - t0)) * (pw - 2 * pad));
    const y = (v) => T + ph - (v / top) * ph;
    [[t0, 'start'], [t1, 'end']].forEach(([t, anchor]) => {
      if (anchor === 'end' && t1 === t0) return;
      el(svg, 'text', { x: x(t), y: H - 8, 'text-anchor': t1 === t0 ? 'middle' : anchor }, clock(t));
    });
    if (bars) {
      const bw = Math.max(2, Math.min(14, pw / Math.max(1, samples.length) - 2));
      for (const p of samples) {
        const v = bars(p);
        if (!v) continue;
        const bh = (v / barTop) * ph * 0.35;
        el(svg, 'rect', { x: x(p.at) - bw / 2, y: T + ph - bh, width: bw, height: bh, fill: '#cbd5e1', class: 'bar' });
      }
    }
    for (const s of series) {
      let d = '';
      let pen = false;
      for (const p of samples) {
        const v = s.value(p);
        if (v == null) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(p.at).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
        pen = true;
      }
      if (d) el(svg, 'path', { d: d.trim(), fill: 'none', stroke: css(s.color), 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'series' });
      const last = [...samples].reverse().find((p) => s.value(p) != null);
      if (last) el(svg, 'circle', { cx: x(last.at), cy: y(s.value(last)), r: 3, fill: css(s.color) });
    }
  }

  function render(stats) {
    const t = stats.totals;
    document.getElementById('kpi-created').textContent = fmt.format(t.created);
    document.getElementById('kpi-merged').textContent = fmt.format(t.merged);
    document.getElementById('kpi-expired').textContent = fmt.format(t.expired);
    document.getElementById('kpi-active').textContent = fmt.format(t.active);
    document.getElementById('kpi-rate').textContent = (100 * stats.conversionRate).toFixed(1) + '% of guests created';
    funnel(t);
    lineChart(document.getElementById('chart-guests'), stats.samples, [
      { color: '--created', value: (p) => p.created },
      { color: '--merged', value: (p) => p.merged },
      { color: '--expired', value: (p) => p.expired },
      { color: '--active', value: (p) => p.active },
    ], {});
    lineChart(document.getElementById('chart-latency'), stats.samples, [
      { color: '--p50', value: (p) => p.mergeP50Ms },
      { color: '--p95', value: (p) => p.mergeP95Ms },
    ], { bars: (p) => p.merges });
    const status = document.getElementById('status');
    status.className = '';
    status.textContent = 'updated ' + clock(stats.now) + ' · sampled every ' + Math.round(stats.intervalMs / 1000) + ' s';
    document.body.dataset.rendered = 'true';
  }

  let interval = 10000;
  async function refresh() {
    try {
      const response = await fetch('v1/stats', { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const stats = await response.json();
      interval = Math.max(2000, stats.intervalMs);
      render(stats);
    } catch (error) {
      const status = document.getElementById('status');
      status.className = 'error';
      status.textContent = 'cannot load statistics (' + error.message + ')';
    } finally {
      setTimeout(refresh, interval);
    }
  }
  refresh();
})();
</script>
</body>
</html>
`;
