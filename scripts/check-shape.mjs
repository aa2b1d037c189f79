#!/usr/bin/env node
// The shape rules of ARCHITECTURE.md, checked: no source file over 500 lines (the binary formats excepted, whose
// layout reads best whole) and no function over 70 lines. Run by `npm test`; `--list` prints every function over
// the limit without failing, for a refactor in progress.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('..', import.meta.url).pathname;
const DIRS = ['actors', 'runtime', 'bench', 'test'];
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 70;
/** binary formats: a wire codec and a store layout read best as one file */
const FILE_EXCEPTIONS = new Set(['runtime/threads/wire.ts', 'runtime/host/store.ts']);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

function nameOf(node, sf) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const p = node.parent;
  if (p && ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return p.name.text;
  if (p && ts.isPropertyAssignment(p)) return p.name.getText(sf);
  if (p && ts.isCallExpression(p)) {
    const callee = p.expression.getText(sf);
    const first = p.arguments[0];
    const label = first && ts.isStringLiteralLike(first) ? ` ${JSON.stringify(first.text)}` : '';
    return `callback of ${callee}${label}`;
  }
  return '(anonymous)';
}

const problems = [];
for (const dir of DIRS) {
  for (const path of files(join(ROOT, dir))) {
    const rel = relative(ROOT, path);
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_FILE_LINES && !FILE_EXCEPTIONS.has(rel)) problems.push(`${rel}: ${lines} lines (limit ${MAX_FILE_LINES})`);
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const n = end - start + 1;
        // a test's callback is a scenario, not a function to read whole; its helpers are held to the limit
        const isTestBody = rel.startsWith('test/') && /^callback of (test|it|describe|suite)\b/.test(nameOf(node, sf));
        if (n > MAX_FUNCTION_LINES && !isTestBody) problems.push(`${rel}:${start + 1}: ${nameOf(node, sf)} is ${n} lines (limit ${MAX_FUNCTION_LINES})`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}
for (const p of problems) console.log(p);
if (problems.length > 0 && !process.argv.includes('--list')) {
  console.error(`check-shape: ${problems.length} problem(s); split the file or function (see ARCHITECTURE.md)`);
  process.exit(1);
}
if (problems.length === 0) console.log('check-shape: every file and function within limits');
