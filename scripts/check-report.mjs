#!/usr/bin/env node
// Opens an HTML report (`leaderless bench|sim|sweep|pbs --html`) in headless Chromium, checks that it rendered, and
// writes a screenshot of the whole page for a person to look at.
//
// The page's own script (bench/report/browser.ts) draws its Chart.js charts and writes what it drew into
// <body data-render-check>: per chart the data elements laid out (marks) and the coloured pixels in the plot area
// (ink); per headline card its number and whether it is visible. `--dump-dom` shows us that attribute. Checked: at
// least one chart; every chart drew (marks > 0, ink > 0, no error, a size); every headline card is visible and has a
// number; the charts and headline ids named by --expect / --headlines are there.
//
// Usage: node scripts/check-report.mjs REPORT.html [--expect chart,chart] [--headlines id,id] [--screenshot FILE.png]
//   Without --screenshot the PNG goes to $TMPDIR/leaderless-report-shots/REPORT.png. Prints the render check as JSON
//   on stdout and "screenshot: PATH" on stderr.
// Exit: 0 rendered; 1 something did not; 2 bad usage; 77 no Chromium here (skip).
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian: apt-get install -y chromium) or chromium-browser.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SKIP = 77;
const TIMEOUT_MS = 60_000;
const WIDTH = 1200;
const MAX_HEIGHT = 16_000;

export function findChromium() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((c) => c !== undefined && c !== '' && existsSync(c));
}

function decodeEntities(s) {
  return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

function chromiumRun(chromium, args, file) {
  const profile = mkdtempSync(join(tmpdir(), 'leaderless-chromium-'));
  try {
    const common = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--hide-scrollbars', '--force-device-scale-factor=1', `--user-data-dir=${profile}`];
    return execFileSync(chromium, [...common, ...args, pathToFileURL(resolve(file)).href], { encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Returns { charts: [{ chart, marks, ink, width, height, error? }], headlines: [{ id, value, visible }], height }. */
export function renderCheck(chromium, file) {
  const dom = chromiumRun(chromium, [`--window-size=${WIDTH},1000`, '--dump-dom'], file);
  const m = /<body[^>]*\sdata-render-check="([^"]*)"/.exec(dom);
  if (m === null) throw new Error('the page did not report its charts (no data-render-check on <body>): did its script run?');
  return JSON.parse(decodeEntities(m[1]));
}

/** Writes a PNG of the whole page (height as the page measured itself); returns its path. */
export function screenshot(chromium, file, out, height) {
  mkdirSync(dirname(out), { recursive: true });
  const h = Math.min(MAX_HEIGHT, Math.max(600, Math.ceil(height) + 40));
  chromiumRun(chromium, [`--window-size=${WIDTH},${h}`, `--screenshot=${resolve(out)}`], file);
  if (!existsSync(out) || statSync(out).size === 0) throw new Error(`Chromium wrote no screenshot at ${out}`);
  return out;
}

/** What is wrong with a render check (empty: nothing). */
export function problems(check, expectCharts = [], expectHeadlines = []) {
  const out = [];
  if (check.charts.length === 0) out.push('no charts on the page');
  for (const c of check.charts) {
    if (c.error !== undefined) out.push(`chart ${c.chart}: ${c.error}`);
    if (c.width <= 0 || c.height <= 0) out.push(`chart ${c.chart} has no size (${c.width}x${c.height})`);
    if (!(c.marks > 0)) out.push(`chart ${c.chart}: no data marks laid out`);
    if (!(c.ink > 0)) out.push(`chart ${c.chart}: nothing coloured drawn in its plot area`);
  }
  for (const h of check.headlines) {
    if (!h.visible) out.push(`headline ${h.id} is not visible`);
    if (!/\d/.test(h.value ?? '')) out.push(`headline ${h.id} shows no number ("${h.value}")`);
  }
  for (const name of expectCharts) if (!check.charts.some((c) => c.chart === name)) out.push(`chart ${name} is missing`);
  for (const id of expectHeadlines) if (!check.headlines.some((h) => h.id === id)) out.push(`headline ${id} is missing`);
  return out;
}

function listArg(argv, flag) {
  const at = argv.indexOf(flag);
  return at >= 0 ? (argv[at + 1] ?? '').split(',').filter(Boolean) : [];
}

function main(argv) {
  const file = argv[0];
  if (file === undefined || file.startsWith('--') || !existsSync(file)) {
    process.stderr.write('usage: node scripts/check-report.mjs REPORT.html [--expect chart,chart] [--headlines id,id] [--screenshot FILE.png]\n');
    return 2;
  }
  const chromium = findChromium();
  if (chromium === undefined) {
    process.stderr.write('check-report: skipped: no Chromium found (set CHROMIUM, or apt-get install -y chromium)\n');
    return SKIP;
  }
  const check = renderCheck(chromium, file);
  const at = argv.indexOf('--screenshot');
  const png = at >= 0 ? argv[at + 1] : join(tmpdir(), 'leaderless-report-shots', basename(file).replace(/\.html?$/i, '') + '.png');
  screenshot(chromium, file, png, check.height);
  process.stdout.write(JSON.stringify(check) + '\n');
  process.stderr.write(`screenshot: ${resolve(png)}\n`);
  const found = problems(check, listArg(argv, '--expect'), listArg(argv, '--headlines'));
  for (const p of found) process.stderr.write(`check-report: ${p}\n`);
  return found.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
