// A child process for the control-plane keep-alive test: it starts a cluster, then creates one client per node
// concurrently, many times over, with nothing else holding the process open. If an in-flight control call let the
// process exit under an `await`, the process ends early (exit code 0 or 13, no "done" line); otherwise it prints
// "done <clients>" and exits 0.
import { Cluster } from '../../runtime/index.js';

const rounds = Number(process.argv[2] ?? 20);
const cluster = await Cluster.start({ nodes: 5, replication: 3 });
let made = 0;
for (let round = 0; round < rounds; round++) {
  const clients = await Promise.all([0, 1, 2, 3, 4].map((near) => cluster.client({ near })));
  made += clients.length;
  for (const c of clients) c.close();
}
await cluster.stop();
console.log(`done ${made}`);
