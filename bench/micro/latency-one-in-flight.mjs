// Latency at 1 in flight by cluster size (puts and gets awaited one at a time, sharedMemoryReads 'off'): where a
// single operation's time goes. Usage: node bench/micro/latency-one-in-flight.mjs ROOT (a built checkout).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const { Cluster } = await import(pathToFileURL(resolve(process.argv[2] ?? '.', 'dist/runtime/index.js')).href);
for (const [nodes, rep] of [[1, 1], [3, 3], [5, 3]]) {
  const c = await Cluster.start({ nodes, replication: rep, read: rep === 1 ? 1 : 2, write: rep === 1 ? 1 : 2, sharedMemoryReads: 'off' });
  const V = 'v'.repeat(100);
  for (let i = 0; i < 500; i++) await c.put(`k${i}`, V);
  const lat = [];
  for (let i = 0; i < 3000; i++) { const t0 = performance.now(); await c.put(`k${i % 500}`, V); lat.push(performance.now() - t0); }
  const glat = [];
  for (let i = 0; i < 3000; i++) { const t0 = performance.now(); await c.get(`k${i % 500}`); glat.push(performance.now() - t0); }
  lat.sort((a, b) => a - b); glat.sort((a, b) => a - b);
  console.log(`${nodes} nodes N=${rep}: put p50 ${(lat[1500] * 1000).toFixed(0)} us, get p50 ${(glat[1500] * 1000).toFixed(0)} us`);
  await c.stop();
}
