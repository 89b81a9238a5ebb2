/** Builds a JSON object whose serialisation is exactly `size` bytes, padded with a filler string. */
export function jsonOfSize(size: number): string {
  const head = '{"ok":true,"service":"bench-upstream","padding":"';
  const tail = '"}';
  const fill = size - head.length - tail.length;
  if (fill < 0) throw new Error(`cannot build a ${size}-byte JSON document`);
  return head + 'x'.repeat(fill) + tail;
}

/**
 * Paths the upstream serves, the same on nginx and on the node:http fallback. `order` answers the small
 * document to any method, for POST scenarios (nginx's static module refuses POST).
 */
export const PATHS = { small: '/small', large: '/large', order: '/orders' } as const;

/** The JSON body POSTed to `PATHS.order`, valid under the bench contract. */
export const ORDER_BODY = JSON.stringify({ sku: 'BK-1042', qty: 2, note: 'gift wrap' });

/** The two fixed answers: 101 bytes and 16 KiB. */
export const BODIES = { small: jsonOfSize(101), large: jsonOfSize(16 * 1024) } as const;
