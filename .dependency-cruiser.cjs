// The layer rules of ARCHITECTURE.md, checked by dependency-cruiser on the TypeScript sources (`npm run lint:deps`,
// part of `npm test`). Paths are relative to the repository root. Type-only imports count (tsPreCompilationDeps), so a
// cycle through `import type` is a cycle here too.
//
//   actors/            the pure protocol: imports nothing outside actors/ (no node: builtins, no npm packages)
//   runtime/threads/   and runtime/sim/ never import each other; runtime/host/ (shared by both) imports neither
//   bench/             reaches runtime/ only through the public entry runtime/index.ts (micro-benchmarks excepted);
//                      what it takes from actors/ directly is a warning
//   actors/, runtime/  never import bench/ or test/
//   everywhere         no cycles, nothing unresolvable; no orphan module in actors/ or runtime/

/** Benchmarks that measure internals and may import them directly (flat files now, bench/micro/ later). */
const MICRO_BENCHMARKS = [
  '^bench/micro/',
  '^bench/micro[^/]*\\.ts$',
  '^bench/repair\\.ts$',
  '^bench/compare\\.ts$',
  '^bench/multicore\\.ts$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'actors-pure',
      comment:
        'actors/ is pure protocol: it imports only from actors/ (no node: builtin, no npm package, no runtime/, bench/ or test/ module)',
      severity: 'error',
      from: { path: '^actors/' },
      to: { pathNot: '^actors/' },
    },
    {
      name: 'threads-not-sim',
      comment: 'the thread runtime never imports the simulator: the public entry (runtime/index.ts) picks one',
      severity: 'error',
      from: { path: '^runtime/threads/' },
      to: { path: '^runtime/sim/' },
    },
    {
      name: 'sim-not-threads',
      comment: 'the simulator never imports the thread runtime: the public entry (runtime/index.ts) picks one',
      severity: 'error',
      from: { path: '^runtime/sim/' },
      to: { path: '^runtime/threads/' },
    },
    {
      name: 'nats-not-other-runtimes',
      comment:
        'the NATS runtime never imports the thread runtime or the simulator, except the binary wire codec (threads/wire.ts: pure, imports only actors/), which is to move to runtime/host/ once the data-plane work on it has landed',
      severity: 'error',
      from: { path: '^runtime/nats/' },
      to: { path: '^runtime/(threads|sim)/', pathNot: '^runtime/threads/wire\\.ts$' },
    },
    {
      name: 'runtimes-not-nats',
      comment: 'the thread runtime, the simulator and the shared host never import the NATS runtime: the public entry does',
      severity: 'error',
      from: { path: '^runtime/(threads|sim|host)/' },
      to: { path: '^runtime/nats/' },
    },
    {
      name: 'host-not-runtimes',
      comment: 'runtime/host/ is shared by both runtimes and imports neither: they give it a transport and a clock',
      severity: 'error',
      from: { path: '^runtime/host/' },
      to: { path: '^runtime/(threads|sim|nats)/' },
    },
    {
      name: 'bench-public-entry',
      comment:
        'bench/ uses the package as its users do, through runtime/index.ts; only micro-benchmarks (bench/micro*, repair, compare, multicore) may reach inside',
      severity: 'error',
      from: { path: '^bench/', pathNot: MICRO_BENCHMARKS },
      to: { path: '^runtime/', pathNot: '^runtime/index\\.ts$' },
    },
    {
      name: 'bench-actors-via-entry',
      comment:
        'a warning for now: ARCHITECTURE.md has bench/ use the public entry for everything, so what it takes from actors/ (errors, types) should come through runtime/index.ts too',
      severity: 'warn',
      from: { path: '^bench/', pathNot: MICRO_BENCHMARKS },
      to: { path: '^actors/' },
    },
    {
      name: 'core-not-harness',
      comment: 'actors/ and runtime/ never import the harness (bench/) or the tests (test/)',
      severity: 'error',
      from: { path: '^(actors|runtime)/' },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles, type-only imports included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'a module in actors/ or runtime/ that nothing imports and that imports nothing is dead code',
      severity: 'error',
      from: { orphan: true, path: '^(actors|runtime)/', pathNot: '\\.d\\.ts$' },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that cannot be resolved would slip past every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
