import { createAddedLatencyScenario } from './added-latency.ts';
import { createIdleConnectionsScenario } from './idle-connections.ts';
import { createInstancesScenario } from './instances.ts';
import { createPlainProxyScenario } from './plain-proxy.ts';
import { createPoliciesScenario } from './policies.ts';
import { createRouteTableScenario } from './route-table.ts';
import type { Scenario } from './scenario.ts';

/**
 * Every scenario, in run order. A new one (JWT + rate limit, 10,000 instances, registry change-to-routable,
 * aggregate) is a module returning a `Scenario`, added here.
 */
export function allScenarios(): Scenario[] {
  return [
    createPlainProxyScenario('small'),
    createPlainProxyScenario('large'),
    createAddedLatencyScenario(),
    createRouteTableScenario(),
    createIdleConnectionsScenario(),
    createPoliciesScenario(),
    createInstancesScenario(),
  ];
}
