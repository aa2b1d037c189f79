// Reports of a bench run, a simulated run and a sweep: the terminal table (text.ts), and standalone HTML pages with
// Chart.js charts (bench-html.ts, sweep-html.ts; the page shell, inlined library and browser check in html.ts and
// browser.ts; chart specifications in charts.ts). bench/pbs/html.ts builds the pbs page on the same parts.
//
// Use: process.stdout.write(benchTable(report)); writeFileSync(f, benchHtml(report)); sweepHtml(runs) ...
export * from './text.js';
export { benchHtml, benchHeadlines, replayCommand, type SimInfo } from './bench-html.js';
export { sweepHtml } from './sweep-html.js';
export { esc, page, headlines, htmlTable, details, type Headline } from './html.js';
export { Charts, rangeDown, rangeUp, niceCeil, COLORS, POINTS, type ChartSpec, type SeriesSpec } from './charts.js';
