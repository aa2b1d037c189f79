// Fault schedules: parsing `--fault` specs, checking them against the cluster, and driving them during a run.
//
// Syntax: KIND:ARGS@WINDOW, WINDOW is START or START-END, times as 500ms, 1.5s, 2m or 3 (seconds), from the start of
// the measured run (after loading).
//   kill:2@3s                  kill node 2's process (the supervisor restarts it onto its store)
//   kill:2:wipe@3s             the same, and it comes back with an empty store (a replaced disk)
//   crash:2@3s, crash:2:wipe@3s older names of the two above
//   pause:2@1s-3s              node 2 stops processing messages, then resumes (no END: paused until the run ends)
//   partition:0,1/2,3,4@2s-5s  cut the nodes into groups (unlisted nodes are isolated), heal at END
//   delay:*:50ms@1s-4s         add latency on links: * (all), 2 (node 2's links), 0>2 (messages from 0 to 2)
//   drop:1:0.2@1s-4s           drop messages on links with a probability (0..1, or a percentage like 20%)
//   join@2s, join:dc2@2s       a node joins (addNode; in the datacenter named, default the local one)
//   leave:3@4s                 node 3 leaves (removeNode: its ranges handed off, then it stops for good)
//   replace:2@3s               a new node takes node 2's place (replaceNode: rebuilt from the other replicas)
// Windowed faults end at END, or when the run ends; before the final read everything is healed and resumed.
// Membership changes run one at a time, each from its START until it completes (its marker ends then, with what it
// moved); one that is still running when the run ends is awaited before the final read.
//
// Data layout: a FaultSpec is plain data (kind, nodes, window in ms, the text it came from); a FaultDriver turns the
// specs into a time-ordered list of start and end events and applies them through the cluster's `faults` object,
// recording a marker per fault (when it started and ended) for the report's throughput chart.
import { InvalidConfigError, type Faults, type LinkSpec, type MembershipChangeResult } from '../runtime/index.js';
import { durationHelp, tryDurationMs } from './duration.js';

/** A directed link a delay or drop names ('*': any): the cluster interface's LinkSpec, both ends given. */
export type Link = Required<LinkSpec>;

interface Window {
  /** the spec as given on the command line */
  text: string;
  atMs: number;
  /** undefined: until the run ends (or instantaneous, for kill and crash) */
  endMs?: number;
}

export type FaultSpec = Window &
  (
    | { kind: 'kill'; node: number; wipe: boolean }
    | { kind: 'crash'; node: number; wipe: boolean }
    | { kind: 'pause'; node: number }
    | { kind: 'partition'; groups: number[][] }
    | { kind: 'delay'; links: Link[]; delayMs: number }
    | { kind: 'drop'; links: Link[]; probability: number }
    | { kind: 'join'; datacenter?: string }
    | { kind: 'leave'; node: number }
    | { kind: 'replace'; node: number }
  );

/** What the harness needs of the cluster for membership faults (optional: a test's fake store may lack them). */
export interface MembershipApi {
  addNode(options?: { datacenter?: string }): Promise<MembershipChangeResult>;
  removeNode(node: number): Promise<MembershipChangeResult>;
  replaceNode(node: number): Promise<MembershipChangeResult>;
  /** the change in progress, sampled while one runs for the report's handoff progress (optional) */
  membership?(): { inProgress: { rangesTotal: number; rangesPending: number; keysMoved: number; bytesMoved: number } | null };
}

/** How often the harness samples a running membership change's progress (ms). */
export const PROGRESS_SAMPLE_MS = 50;

/**
 * What the harness drives: the cluster's `faults` object, the vocabulary of runtime/api.ts. Every runtime has all of
 * it; a test's fake store may implement only some (the kinds it lacks are unsupported).
 */
export type FaultApi = Pick<Faults, 'partition' | 'heal' | 'kill'> & Partial<Omit<Faults, 'partition' | 'heal' | 'kill'>> & Partial<MembershipApi>;

export interface FaultMarker {
  text: string;
  kind: FaultSpec['kind'];
  /** when it was applied, ms from the start of the run */
  startMs: number;
  /** when it was lifted; undefined for instantaneous faults (a membership change: when it completed) */
  endMs?: number;
  /** a membership change that completed: what it moved */
  change?: { epoch: number; node: number; replacement?: number; keysMoved: number; bytesMoved: number; keysDropped: number; movedFraction: number; durationMs: number };
  /** a membership change that failed: why */
  error?: string;
  /** a membership change's handoff progress, sampled every PROGRESS_SAMPLE_MS while it ran */
  progress?: Array<{ tMs: number; rangesPending: number; rangesTotal: number; keysMoved: number; bytesMoved: number }>;
}

export const FAULT_KINDS = ['kill', 'crash', 'pause', 'partition', 'delay', 'drop', 'join', 'leave', 'replace'] as const;
const MEMBERSHIP_KINDS: ReadonlySet<string> = new Set(['join', 'leave', 'replace']);
/** Most faults one run takes: each is an event or two, and the report draws every one. */
export const MAX_FAULTS = 64;

const METHODS: Record<FaultSpec['kind'], Array<keyof FaultApi>> = {
  kill: ['kill'],
  crash: ['kill'],
  pause: ['pause', 'resume'],
  partition: ['partition', 'heal'],
  delay: ['delay', 'clear'],
  drop: ['drop', 'clear'],
  join: ['addNode'],
  leave: ['removeNode'],
  replace: ['replaceNode'],
};

function bad(text: string, why: string): InvalidConfigError {
  return new InvalidConfigError(`--fault "${text}": ${why}`);
}

/** Parses one spec; node numbers are checked against the cluster by checkFaults. */
export function parseFault(text: string): FaultSpec {
  const at = text.lastIndexOf('@');
  if (at < 0) throw bad(text, 'missing @WINDOW; write e.g. kill:2@3s or partition:0,1/2,3,4@2s-5s');
  const window = parseWindow(text, text.slice(at + 1));
  const [kind, ...args] = text.slice(0, at).split(':');
  switch (kind) {
    case 'kill':
    case 'crash': {
      // kill and crash are one fault (the cluster interface's faults.kill); crash is the older name
      if (args.length > 2 || (args.length === 2 && args[1] !== 'wipe')) throw bad(text, `unknown ${kind} option ${args[1]}; allowed: wipe`);
      return { ...window, kind, node: nodeArg(text, args.slice(0, 1), 1), wipe: args[1] === 'wipe' };
    }
    case 'pause':
      return { ...window, kind, node: nodeArg(text, args, 1) };
    case 'partition':
      if (args.length !== 1) throw bad(text, 'write partition:GROUP/GROUP/..., e.g. partition:0,1/2,3,4@2s-5s');
      return { ...window, kind, groups: args[0].split('/').map((g) => g.split(',').map((n) => nodeNumber(text, n))) };
    case 'delay':
      if (args.length !== 2) throw bad(text, 'write delay:LINKS:MS, e.g. delay:*:50ms@1s-4s (LINKS: *, 2 or 0>2)');
      return { ...window, kind, links: parseLinks(text, args[0]), delayMs: parseTimeMs(text, args[1], 'ms') };
    case 'drop':
      if (args.length !== 2) throw bad(text, 'write drop:LINKS:P, e.g. drop:1:0.2@1s-4s (LINKS: *, 2 or 0>2)');
      return { ...window, kind, links: parseLinks(text, args[0]), probability: parseProbability(text, args[1]) };
    case 'join':
      if (args.length > 1) throw bad(text, 'write join@2s, or join:DATACENTER@2s');
      if (window.endMs !== undefined) throw bad(text, 'a join has no END: it runs until it completes');
      return { ...window, kind, ...(args[0] === undefined ? {} : { datacenter: args[0] }) };
    case 'leave':
    case 'replace':
      if (window.endMs !== undefined) throw bad(text, `a ${kind} has no END: it runs until it completes`);
      return { ...window, kind, node: nodeArg(text, args, 1) };
    default:
      throw bad(text, `unknown fault kind ${kind}; allowed: ${FAULT_KINDS.join(', ')}`);
  }
}

function parseWindow(text: string, w: string): Window {
  const m = /^([^-]+)(?:-(.+))?$/.exec(w);
  if (m === null) throw bad(text, `malformed window "${w}"; write START or START-END, e.g. 2s or 2s-5s`);
  const atMs = parseTimeMs(text, m[1], 's');
  if (m[2] === undefined) return { text, atMs };
  const endMs = parseTimeMs(text, m[2], 's');
  if (endMs <= atMs) throw bad(text, `the window ends (${m[2]}) before it starts (${m[1]})`);
  return { text, atMs, endMs };
}

/** `500ms`, `1.5s`, `2m`, or a bare number in `bareUnit` (bench/duration.ts). */
export function parseTimeMs(text: string, t: string, bareUnit: 'ms' | 's'): number {
  const ms = tryDurationMs(t, bareUnit);
  if (ms === undefined) throw bad(text, `malformed time "${t}"; ${durationHelp(bareUnit)}`);
  return ms;
}

function nodeNumber(text: string, s: string): number {
  if (!/^\d+$/.test(s.trim())) throw bad(text, `"${s}" is not a node number`);
  return Number(s);
}

function nodeArg(text: string, args: string[], count: number): number {
  if (args.length !== count) throw bad(text, 'name one node, e.g. kill:2@3s');
  return nodeNumber(text, args[0]);
}

function parseLinks(text: string, s: string): Link[] {
  if (s === '*') return [{ from: '*', to: '*' }];
  const arrow = /^(\d+|\*)>(\d+|\*)$/.exec(s);
  if (arrow !== null) {
    const end = (x: string): number | '*' => (x === '*' ? '*' : Number(x));
    return [{ from: end(arrow[1]), to: end(arrow[2]) }];
  }
  const node = nodeNumber(text, s);
  return [
    { from: node, to: '*' },
    { from: '*', to: node },
  ];
}

function parseProbability(text: string, s: string): number {
  const pct = s.endsWith('%');
  const n = Number(pct ? s.slice(0, -1) : s) / (pct ? 100 : 1);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw bad(text, `drop probability "${s}" must be from 0 to 1 (or 0% to 100%)`);
  return n;
}

function nodesOf(f: FaultSpec): number[] {
  switch (f.kind) {
    case 'kill':
    case 'crash':
    case 'pause':
    case 'leave':
    case 'replace':
      return [f.node];
    case 'join':
      return [];
    case 'partition':
      return f.groups.flat();
    case 'delay':
    case 'drop':
      return f.links.flatMap((l) => [l.from, l.to]).filter((n): n is number => n !== '*');
  }
}

/** Checks every spec against the cluster's size and the run's length (undefined: an operation-count run). */
export function checkFaults(specs: readonly FaultSpec[], nodeCount: number, durationMs: number | undefined): void {
  if (specs.length > MAX_FAULTS) throw new InvalidConfigError(`at most ${MAX_FAULTS} --fault specs; got ${specs.length}`);
  for (const f of specs) {
    // nodes that join earlier in the schedule take the next ids (ids are never reused)
    const added = specs.filter((o) => (o.kind === 'join' || o.kind === 'replace') && o.atMs < f.atMs).length;
    for (const n of nodesOf(f)) {
      if (n >= nodeCount + added) {
        throw bad(f.text, `node ${n} does not exist: the cluster has nodes 0 to ${nodeCount + added - 1} by then`);
      }
    }
    if (f.kind === 'partition') {
      const all = f.groups.flat();
      if (new Set(all).size !== all.length) throw bad(f.text, 'a node is in two groups');
    }
    if (durationMs !== undefined && f.atMs >= durationMs) {
      throw bad(f.text, `it starts at ${f.atMs / 1000}s, after the run ends at ${durationMs / 1000}s`);
    }
  }
}

/** Throws one clear line when the cluster lacks a method some fault needs (the runtime may not have it yet). */
export function checkSupported(api: Partial<FaultApi> | undefined, specs: readonly FaultSpec[]): void {
  for (const f of specs) {
    for (const m of METHODS[f.kind]) {
      if (typeof api?.[m] !== 'function') {
        throw new InvalidConfigError(`--fault "${f.text}": this cluster does not support ${f.kind} faults yet (it has no faults.${m})`);
      }
    }
  }
}

interface FaultEvent {
  atMs: number;
  start: boolean;
  spec: FaultSpec;
  order: number;
}

export interface DriverClock {
  nowMs(): number;
  sleepMs(ms: number): Promise<void>;
}

/** Applies a schedule in time order; `stop()` ends it early, `restore()` undoes whatever is still in force. */
export class FaultDriver {
  readonly markers: FaultMarker[] = [];
  private readonly events: FaultEvent[];
  private readonly active = new Set<FaultSpec>();
  private readonly open = new Map<FaultSpec, FaultMarker>();
  private stopped = false;
  /** membership changes run one at a time: each starts when the one before has completed */
  private changes: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: FaultApi,
    specs: readonly FaultSpec[],
    private readonly clock: DriverClock,
  ) {
    checkSupported(api, specs);
    const events: FaultEvent[] = [];
    specs.forEach((spec, i) => {
      events.push({ atMs: spec.atMs, start: true, spec, order: i });
      if (spec.endMs !== undefined) events.push({ atMs: spec.endMs, start: false, spec, order: i });
    });
    // ends before starts at the same instant, so a fault that replaces another is applied after the heal
    this.events = events.sort((a, b) => a.atMs - b.atMs || Number(a.start) - Number(b.start) || a.order - b.order);
  }

  /** Runs the schedule; `originMs` is the clock reading at the start of the run. */
  async run(originMs: number): Promise<void> {
    for (const ev of this.events) {
      const waitMs = originMs + ev.atMs - this.clock.nowMs();
      if (waitMs > 0) await this.clock.sleepMs(waitMs);
      if (this.stopped) return;
      const t = this.clock.nowMs() - originMs;
      if (ev.start) await this.apply(ev.spec, t);
      else await this.lift(ev.spec, t);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Lifts everything still in force (the final read needs a healed cluster), then waits for the membership changes
   * under way. Killed nodes stay dead.
   */
  async restore(nowMs: number): Promise<void> {
    this.stopped = true;
    for (const spec of [...this.active]) await this.lift(spec, nowMs);
    await this.changes;
  }

  private async apply(f: FaultSpec, t: number): Promise<void> {
    if (MEMBERSHIP_KINDS.has(f.kind)) return this.change(f, t);
    await this.perform(f);
    const marker: FaultMarker = { text: f.text, kind: f.kind, startMs: t };
    this.markers.push(marker);
    if (f.kind === 'kill' || f.kind === 'crash') return;
    this.active.add(f);
    this.open.set(f, marker);
  }

  /** Queues a membership change after those before it; its marker runs from its start to its completion. */
  private change(f: FaultSpec, t: number): void {
    const origin = this.clock.nowMs() - t;
    this.changes = this.changes.then(async () => {
      const marker: FaultMarker = { text: f.text, kind: f.kind, startMs: this.clock.nowMs() - origin };
      this.markers.push(marker);
      try {
        const r = await this.sampled(this.membership(f), marker, origin);
        marker.change = {
          epoch: r.epoch, node: r.node, ...(r.replacement === undefined ? {} : { replacement: r.replacement }),
          keysMoved: r.keysMoved, bytesMoved: r.bytesMoved, keysDropped: r.keysDropped, movedFraction: r.movedFraction, durationMs: r.durationMs,
        };
      } catch (e) {
        marker.error = e instanceof Error ? e.message : String(e);
      }
      marker.endMs = this.clock.nowMs() - origin;
    });
  }

  /** Samples the change's progress into its marker until it settles. */
  private async sampled<T>(p: Promise<T>, marker: FaultMarker, origin: number): Promise<T> {
    const read = this.api.membership;
    if (read === undefined) return p;
    let done = false;
    const settled = p.finally(() => void (done = true));
    const samples: NonNullable<FaultMarker['progress']> = (marker.progress = []);
    while (!done) {
      const s = read.call(this.api).inProgress;
      if (s !== null) samples.push({ tMs: this.clock.nowMs() - origin, rangesPending: s.rangesPending, rangesTotal: s.rangesTotal, keysMoved: s.keysMoved, bytesMoved: s.bytesMoved });
      await Promise.race([settled.then(() => undefined, () => undefined), this.clock.sleepMs(PROGRESS_SAMPLE_MS)]);
    }
    return settled;
  }

  private membership(f: FaultSpec): Promise<MembershipChangeResult> {
    const api = this.api;
    if (f.kind === 'join') return api.addNode!(f.datacenter === undefined ? {} : { datacenter: f.datacenter });
    if (f.kind === 'leave') return api.removeNode!(f.node);
    if (f.kind === 'replace') return api.replaceNode!(f.node);
    throw new Error(`internal: ${f.kind} is not a membership change`);
  }

  private async perform(f: FaultSpec): Promise<void> {
    const api = this.api;
    switch (f.kind) {
      case 'kill':
      case 'crash':
        return void (await api.kill(f.node, f.wipe ? { wipe: true } : {}));
      case 'pause':
        return void (await api.pause!(f.node));
      case 'partition':
        return api.partition(f.groups);
      case 'delay':
        for (const l of f.links) api.delay!({ from: l.from, to: l.to, ms: f.delayMs });
        return;
      case 'drop':
        for (const l of f.links) api.drop!({ from: l.from, to: l.to, probability: f.probability });
        return;
      default:
        return; // membership changes go through change()
    }
  }

  private async lift(f: FaultSpec, t: number): Promise<void> {
    if (!this.active.delete(f)) return;
    const marker = this.open.get(f);
    if (marker !== undefined) marker.endMs = t;
    this.open.delete(f);
    if (f.kind === 'pause') return void (await this.api.resume!(f.node));
    // heal() lifts every partition, and clear() every link fault, partition and pause: put back the others still in
    // force (pausing a paused node is a no-op)
    if (f.kind === 'partition') this.api.heal();
    else await this.api.clear!();
    for (const other of this.active) if (f.kind !== 'partition' || other.kind === 'partition') await this.perform(other);
  }
}
