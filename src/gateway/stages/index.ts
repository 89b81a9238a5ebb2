import type { StageFactory } from '../pipeline/stage.ts';
import { authStage } from './auth-stage.ts';
import { cacheStage } from './cache-stage.ts';
import { compressStage } from './compress-stage.ts';
import { corsStage } from './cors-stage.ts';
import { ipRulesStage } from './ip-rules-stage.ts';
import { mirrorStage } from './mirror-stage.ts';
import { rateLimitStage } from './rate-limit-stage.ts';
import { scopesStage } from './scopes-stage.ts';
import { transformStage } from './transform-stage.ts';
import { validateStage } from './validate-stage.ts';
import { versionStageFactory } from './version-stage.ts';

/**
 * Every stage Portico knows, in registration order; `sortByPhase` orders them by phase when a route is
 * compiled. A policy issue adds its factory here.
 */
export const stageFactories: readonly StageFactory[] = [
  ipRulesStage,
  corsStage,
  authStage,
  scopesStage,
  rateLimitStage,
  versionStageFactory,
  validateStage,
  compressStage,
  transformStage,
  mirrorStage,
  cacheStage,
];
