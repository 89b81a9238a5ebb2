import type { StageFactory } from '../pipeline/stage.ts';

/**
 * Every stage Portico knows, in registration order; `sortByPhase` orders them by phase when a route is
 * compiled. A policy issue adds its factory here.
 */
export const stageFactories: readonly StageFactory[] = [];
