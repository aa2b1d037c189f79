// A second application thread for test/cluster.test.ts: it attaches to the cluster with the handle it was given,
// reads what the first thread wrote, writes keys of its own, and reports back. It does nothing on the main thread.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Cluster } from '../../runtime/index.js';
import type { ClientHandle } from '../../runtime/index.js';

async function main(): Promise<void> {
  const { handle, readKeys, writePrefix, writes } = workerData as {
    handle: ClientHandle;
    readKeys: string[];
    writePrefix: string;
    writes: number;
  };
  const client = Cluster.attach(handle);
  const read: Array<string[]> = [];
  for (const k of readKeys) {
    const r = await client.get(k);
    read.push(r.values.map(String));
  }
  const local = await client.get(readKeys[0], { consistency: 'ONE' });
  await Promise.all(Array.from({ length: writes }, (_, i) => client.put(`${writePrefix}${i}`, `from-worker-${i}`)));
  client.close();
  parentPort!.postMessage({ read, local: local.values.map(String) });
}

if (!isMainThread && (workerData as { handle?: unknown })?.handle !== undefined) {
  main().catch((e: Error) => parentPort!.postMessage({ error: `${e.name}: ${e.message}` }));
}
