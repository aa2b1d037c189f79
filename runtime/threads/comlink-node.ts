// comlink's Node adapter (a MessagePort from worker_threads as a comlink Endpoint), typed: the package ships it as
// an .mjs file without an exports map, so TypeScript cannot see its declaration on its own.
import type { MessagePort } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
// @ts-expect-error -- untyped .mjs entry; typed by the wrapper below
import adapter from 'comlink/dist/esm/node-adapter.mjs';

export function nodeEndpoint(port: MessagePort): Endpoint {
  return (adapter as (p: unknown) => Endpoint)(port);
}
