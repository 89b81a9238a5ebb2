import assert from 'node:assert/strict';
import { ConfigError, type ConfigIssue } from '../../src/config/config-error.ts';
import { parseConfig } from '../../src/config/load.ts';

/** Parses `text` expecting a ConfigError, and returns its issues. */
export function issuesOf(
  text: string,
  env: Record<string, string> = {},
  file = 'portico.yaml',
): ConfigIssue[] {
  try {
    parseConfig(text, file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the configuration to be rejected');
}

/** A minimal valid document: one service with one instance and one route to it. */
export const minimal = `services:
  users:
    instances:
      - url: http://127.0.0.1:9101
routes:
  - name: users
    match: { path: /users/** }
    service: users
`;

/** Environment variables the reference configuration needs. */
export const exampleEnv = {
  PORTICO_ADMIN_TOKEN: 'admin-token-0123456789',
  JWT_SECRET: 'jwt-secret',
  MOBILE_KEY_SHA256: 'a'.repeat(64),
  OFFICE_KEY_SHA256: 'b'.repeat(64),
};
