/**
 * FNV-1a (32-bit) over UTF-16 code units, finished with murmur3's fmix32 avalanche step.
 *
 * Written by hand rather than taken from a package or `node:crypto`: it is a dozen lines, runs on
 * every consistent-hash pick, and must not allocate (crypto digests allocate a Buffer per call and
 * are far slower than needed for placing keys on a ring). The finaliser spreads FNV's weak low
 * bits, which matters because ring points are named `id#0`, `id#1`, ... and differ by one character.
 */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    hash = Math.imul(hash ^ (unit & 0xff), 0x01000193);
    if (unit > 0xff) hash = Math.imul(hash ^ (unit >>> 8), 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
