// CPU per operation over every thread of this process (process.cpuUsage): 60k puts then 60k gets at 256 in flight,
// 5 nodes, N=3, R=W=2. Usage: node bench/micro/cpu-per-op.mjs ROOT (a built checkout: ROOT/dist/runtime/index.js).
// For comparing two builds on one machine: CPU time per operation moves less with other load than ops/s does.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const { Cluster } = await import(pathToFileURL(resolve(process.argv[2] ?? '.', 'dist/runtime/index.js')).href);
const c = await Cluster.start({ nodes: 5, replication: 3, read: 2, write: 2 });
const V = 'v'.repeat(100);
async function phase(name, op, total) {
  let i = 0;
  const t0 = performance.now(); const u0 = process.cpuUsage();
  await Promise.all(Array.from({ length: 256 }, async () => { while (i < total) { const k = i++; await op(k); } }));
  const u = process.cpuUsage(u0); const ms = performance.now() - t0;
  return `${name}: ${Math.round(total / (ms / 1000))} ops/s, ${((u.user + u.system) / total).toFixed(1)} us CPU/op`;
}
const out = [];
out.push(await phase('put', (k) => c.put(`k${k % 10000}`, V), 60000));
out.push(await phase('get', (k) => c.get(`k${k % 10000}`), 60000));
await c.stop();
console.log(resolve(process.argv[2] ?? '.').split('/').pop(), out.join(' | '));
