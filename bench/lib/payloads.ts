/** Builds a JSON object whose serialisation is exactly `size` bytes, padded with a filler string. */
export function jsonOfSize(size: number): string {
  const head = '{"ok":true,"service":"bench-upstream","padding":"';
  const tail = '"}';
  const fill = size - head.length - tail.length;
  if (fill < 0) throw new Error(`cannot build a ${size}-byte JSON document`);
  return head + 'x'.repeat(fill) + tail;
}

/** Paths the upstream serves, the same on nginx and on the node:http fallback. */
export const PATHS = { small: '/small', large: '/large' } as const;

/** The two fixed answers: 101 bytes and 16 KiB. */
export const BODIES = { small: jsonOfSize(101), large: jsonOfSize(16 * 1024) } as const;
