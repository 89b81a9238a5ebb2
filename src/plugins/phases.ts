/**
 * Stages run in this fixed order (PRODUCT.md: CORS → authentication → access control → rate limit →
 * request validation), then the route's service. Request filters run in phase order; whatever a stage
 * does to the response after `next` returns runs in reverse order. Built-in stages and plugins share it.
 */
export const phases = ['edge', 'authenticate', 'authorize', 'traffic', 'validate', 'transform'] as const;
export type Phase = (typeof phases)[number];
