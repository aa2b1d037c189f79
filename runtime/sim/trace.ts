// The trace digest: every event the simulator processes is folded, as a few 32-bit words, into a running 64-bit
// hash, so two runs can be compared byte for byte without keeping the trace.
//
// Data layout: two independent 32-bit lanes. Lane a is FNV-1a over the words' bytes; lane b is MurmurHash3's word
// mixing (the body of murmur3_x86_32). One lane alone could hide a difference in a 32-bit collision; the pair makes
// an accidental match between different traces about 2^-64. hex() prints lane a then lane b, 16 hex digits.
// Floating-point times are folded by their IEEE-754 bits (both halves), so 1.5 ms and 1.5000001 ms differ.
//
// Use: const d = new TraceDigest(); d.word(x); d.float(t); d.hex(). `events` counts what was folded.

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);

export class TraceDigest {
  private a = 0x811c9dc5; // FNV-1a offset basis
  private b = 0x1eade71e;
  /** events folded so far */
  events = 0;

  word(x: number): void {
    const w = x >>> 0;
    let a = this.a;
    a = Math.imul(a ^ (w & 0xff), 0x01000193);
    a = Math.imul(a ^ ((w >>> 8) & 0xff), 0x01000193);
    a = Math.imul(a ^ ((w >>> 16) & 0xff), 0x01000193);
    a = Math.imul(a ^ (w >>> 24), 0x01000193);
    this.a = a;
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    let b = this.b ^ k;
    b = (b << 13) | (b >>> 19);
    this.b = (Math.imul(b, 5) + 0xe6546b64) | 0;
  }

  float(x: number): void {
    f64[0] = x;
    this.word(f64Words[0]);
    this.word(f64Words[1]);
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}
