import { createAddedLatencyScenario } from './added-latency.ts';
import { createAggregateScenario } from './aggregate.ts';
import { createCacheScenario } from './cache.ts';
import { createCompressionScenario } from './compression.ts';
import { createIdleConnectionsScenario } from './idle-connections.ts';
import { createInstancesScenario } from './instances.ts';
import { createPlainProxyScenario } from './plain-proxy.ts';
import { createPoliciesScenario } from './policies.ts';
import { createRegistryLatencyScenario } from './registry-latency.ts';
import { createRouteTableScenario } from './route-table.ts';
import type { Scenario } from './scenario.ts';
import { createWorkersScenario } from './workers.ts';

/**
 * Every scenario, in run order: the peer comparisons first, then Portico against itself. A new one is a
 * module returning a `Scenario`, added here (with `quick: false` if the quick run cannot afford it).
 */
export function allScenarios(): Scenario[] {
  return [
    createPlainProxyScenario('small'),
    createPlainProxyScenario('large'),
    createAddedLatencyScenario(),
    createRouteTableScenario(),
    createIdleConnectionsScenario(),
    createPoliciesScenario(),
    createCacheScenario(),
    createCompressionScenario(),
    createInstancesScenario(),
    createRegistryLatencyScenario(),
    createAggregateScenario(),
    createWorkersScenario(),
  ];
}
