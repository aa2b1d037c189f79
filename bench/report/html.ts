// The page every HTML report shares: one self-contained file (styles, Chart.js and the chart specs inline; no
// network), headline cards first, then charts in a grid, then tables.
//
// Chart.js is read from node_modules at run time (its UMD build, about 200 KB minified) and inlined. The page's
// script (browser.ts) draws every chart, then records for a browser check what it drew: on each canvas
// data-marks (the data elements Chart.js laid out) and data-ink (opaque coloured pixels inside the plot area), and on
// <body data-render-check> a JSON summary of every chart and every headline card (scripts/check-report.mjs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BROWSER_SCRIPT } from './browser.js';
import type { ChartSpec } from './charts.js';

import { esc } from './escape.js';

export { esc };

let chartJs: string | undefined;

/** Chart.js's minified UMD build, safe to put inside a <script> element. */
export function chartJsSource(): string {
  if (chartJs === undefined) {
    // the package's exports name no UMD build; it sits beside the CommonJS entry
    const entry = createRequire(import.meta.url).resolve('chart.js');
    const text = readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
    chartJs = text.replace(/\n\/\/# sourceMappingURL=.*$/m, '').replace(/<\/(script)/gi, '<\\/$1');
  }
  return chartJs;
}

/** JSON for a <script type="application/json"> element: nothing in it can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export interface Headline {
  /** stable name, checked by scripts/check-report.mjs */
  id: string;
  label: string;
  value: string;
  /** a smaller line under the number */
  detail?: string;
  /** 'bad' colours the number (something was lost or stale) */
  tone?: 'good' | 'bad' | 'plain';
}

export function headlines(cards: Headline[]): string {
  const card = (h: Headline): string =>
    `<div class="kpi ${h.tone ?? 'plain'}" data-headline="${esc(h.id)}"><div class="v">${esc(h.value)}</div>` +
    `<div class="l">${esc(h.label)}</div>${h.detail === undefined ? '' : `<div class="d">${esc(h.detail)}</div>`}</div>`;
  return `<section class="kpis">${cards.map(card).join('')}</section>`;
}

export function htmlTable(header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

/** A collapsed block of raw text (the terminal report), for whoever wants every figure. */
export function details(summary: string, text: string): string {
  return `<details><summary>${esc(summary)}</summary><pre>${esc(text)}</pre></details>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; color: #222; max-width: 1100px; padding: 0 16px; }
h1 { margin: 0 0 4px; font-size: 24px; } h2 { margin: 28px 0 8px; font-size: 18px; border-bottom: 1px solid #ddd; }
.sub { color: #555; margin: 0 0 12px; }
.banner { background: #fff4d6; border: 1px solid #e0b84c; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.banner b { font-size: 15px; } .banner code { background: #fff; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; margin: 16px 0; }
.kpi { border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px; background: #fafafa; }
.kpi .v { font-size: 28px; font-weight: 700; line-height: 1.15; font-variant-numeric: tabular-nums; }
.kpi .l { font-size: 13px; color: #444; font-weight: 600; } .kpi .d { font-size: 12px; color: #666; }
.kpi.good .v { color: #1a7f37; } .kpi.bad .v { color: #c2261d; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(530px, 1fr)); gap: 8px 16px; }
figure.chart { margin: 8px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
.chart-note { color: #555; font-size: 12px; margin: 2px 0 0; max-width: 520px; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; } th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; } .note { color: #a05; }
details { margin: 6px 0; } summary { cursor: pointer; color: #245; }
`;

export function page(title: string, body: string, specs: ChartSpec[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${STYLE}</style></head>
<body>
${body}
<script type="application/json" id="chart-specs">${scriptJson(specs)}</script>
<script>${chartJsSource()}</script>
<script>${BROWSER_SCRIPT}</script>
</body></html>
`;
}
