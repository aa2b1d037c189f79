// Waits for a condition that another thread makes true (a replica applying a replicate, a repair landing), polling
// with a bounded number of short waits. The assertion is the condition itself; the bound only turns a hang into a
// failure that names what never happened.
export async function eventually(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
