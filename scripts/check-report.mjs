#!/usr/bin/env node
// Opens an HTML report from `leaderless bench --html` or `leaderless sweep --html` in headless Chromium and checks that
// its charts rendered: the page's inline script (bench/report.ts) measures every <svg class="chart"> and its marks
// with getBBox and writes the result into <body data-render-check>, which --dump-dom shows us.
//
// Usage: node scripts/check-report.mjs REPORT.html [--expect latency,throughput,t-visibility]
// Exit: 0 every expected chart rendered with marks; 1 something did not; 2 bad usage; 77 no Chromium here (skip).
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian: apt-get install -y chromium) or chromium-browser.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SKIP = 77;
const TIMEOUT_MS = 60_000;

export function findChromium() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((c) => c !== undefined && c !== '' && existsSync(c));
}

function decodeEntities(s) {
  return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Returns [{ chart, marks, drawn, width, height }] as the browser measured them. */
export function renderCheck(chromium, file) {
  const profile = mkdtempSync(join(tmpdir(), 'leaderless-chromium-'));
  try {
    const dom = execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--dump-dom',
        pathToFileURL(resolve(file)).href,
      ],
      { encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
    );
    const m = /<body[^>]*\sdata-render-check="([^"]*)"/.exec(dom);
    if (m === null) throw new Error('the page did not report its charts (no data-render-check on <body>): did its script run?');
    return JSON.parse(decodeEntities(m[1]));
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

function main(argv) {
  const file = argv[0];
  const at = argv.indexOf('--expect');
  const expect = at >= 0 ? (argv[at + 1] ?? '').split(',').filter(Boolean) : [];
  if (file === undefined || file.startsWith('--') || !existsSync(file)) {
    process.stderr.write('usage: node scripts/check-report.mjs REPORT.html [--expect chart,chart]\n');
    return 2;
  }
  const chromium = findChromium();
  if (chromium === undefined) {
    process.stderr.write('check-report: skipped: no Chromium found (set CHROMIUM, or apt-get install -y chromium)\n');
    return SKIP;
  }
  const charts = renderCheck(chromium, file);
  const problems = [];
  if (charts.length === 0) problems.push('no charts on the page');
  for (const c of charts) {
    if (c.width <= 0 || c.height <= 0) problems.push(`chart ${c.chart} has no size (${c.width}x${c.height})`);
    if (c.marks === 0 || c.drawn < c.marks) problems.push(`chart ${c.chart}: ${c.drawn} of ${c.marks} marks drawn`);
  }
  for (const name of expect) if (!charts.some((c) => c.chart === name)) problems.push(`chart ${name} is missing`);
  process.stdout.write(JSON.stringify(charts) + '\n');
  for (const p of problems) process.stderr.write(`check-report: ${p}\n`);
  return problems.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
