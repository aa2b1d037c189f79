// Key identity and hashing, pure and deterministic.
//
// A key is identified by its bytes: a string key is its UTF-8 encoding, so 'user:1' and the bytes of 'user:1' are
// the same key. Inside leaderless a key travels as a "key id": a JS string with one char per byte (0..255). For the
// common case of an ASCII string the key id is the string itself, so the hot path allocates nothing.
//
// hash32 is MurmurHash3 (x86, 32-bit) over the key id's bytes; it places keys on the ring and in Merkle segments.

export type Key = string | Uint8Array;

const encoder = new TextEncoder();

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function bytesToId(b: Uint8Array): string {
  let out = '';
  const CHUNK = 4096;
  for (let i = 0; i < b.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, b.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return out;
}

/** The key id of a key: its bytes, one char per byte. */
export function keyId(key: Key): string {
  if (typeof key === 'string') return isAscii(key) ? key : bytesToId(encoder.encode(key));
  return bytesToId(key);
}

/** The bytes behind a key id. */
export function idToBytes(id: string): Uint8Array {
  const out = new Uint8Array(id.length);
  for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i);
  return out;
}

/** Length in bytes of a key, without encoding it when it is a string (UTF-8 length computed directly). */
export function keyByteLength(key: Key): number {
  if (typeof key !== 'string') return key.length;
  return utf8Length(key);
}

/**
 * UTF-8 length of a string, or -1 when it holds a lone surrogate: UTF-8 cannot encode one (TextEncoder writes U+FFFD
 * instead), so such a string would not come back as written. One pass, as cheap as utf8Length.
 */
export function wellFormedUtf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c < 0xd800 || c > 0xdfff) n += 3;
    else if (c > 0xdbff || i + 1 === s.length) return -1;
    else {
      const d = s.charCodeAt(++i);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      n += 4;
    }
  }
  return n;
}

/** Whether a string holds no lone surrogate (String.prototype.isWellFormed, which Node 20 lacks). */
export function isWellFormed(s: string): boolean {
  // A regular expression scans in native code: most strings have no surrogate at all and pass at that speed.
  return !SURROGATE.test(s) || loneSurrogateAt(s) < 0;
}

/** The index of the first lone surrogate in s, or -1 when there is none. */
export function loneSurrogateAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) return i;
    i++;
  }
  return -1;
}

const SURROGATE = /[\uD800-\uDFFF]/;

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** One MurmurHash3 (x86_32) block step: folds a 32-bit word into the running hash h. */
export function murmurMix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3 (x86_32)'s tail step: folds the last 1-3 bytes (as one word) into h, without the block's rotation. */
export function murmurTail(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  return h ^ k;
}

/** MurmurHash3's finalizer (fmix32): spreads every input bit over the result. Unsigned 32-bit result. */
export function murmurFinal(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 over a key id (each char is one byte). Unsigned 32-bit result. */
export function hash32(id: string, seed = 0): number {
  let h = seed >>> 0;
  const len = id.length;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    const k =
      (id.charCodeAt(i) & 0xff) |
      ((id.charCodeAt(i + 1) & 0xff) << 8) |
      ((id.charCodeAt(i + 2) & 0xff) << 16) |
      ((id.charCodeAt(i + 3) & 0xff) << 24);
    h = murmurMix(h, k);
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (id.charCodeAt(blocks + 2) & 0xff) << 16;
    if (rest >= 2) k ^= (id.charCodeAt(blocks + 1) & 0xff) << 8;
    k ^= id.charCodeAt(blocks) & 0xff;
    h = murmurTail(h, k);
  }
  return murmurFinal(h ^ len);
}

/** MurmurHash3 x86_32 over bytes[start, end): equal to hash32(keyId, seed) for the key id of those bytes. */
export function hash32Bytes(bytes: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = start + ((end - start) & ~3);
  for (let i = start; i < blocks; i += 4) {
    h = murmurMix(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  const rest = (end - start) & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[blocks + 2] << 16;
    if (rest >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    h = murmurTail(h, k);
  }
  return murmurFinal(h ^ (end - start));
}
