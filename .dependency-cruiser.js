/**
 * The layer rules of docs/architecture.md, checked by `npm run deps` in .ci/run. Type-only imports count:
 * a cycle of types is still a cycle between files.
 *
 * Test code: `*.test.ts` and `*.contract.ts` (shared contract suites) are tests even under src/; they may use
 * test/helpers/, and the build leaves them out (tsconfig.build.json).
 */
const testFile = '\\.(test|contract)\\.ts$';

/** What the gateway owns: the SDK must reach none of it, even through another module. */
const gatewaySide =
  '^src/(gateway|admin|cluster|cli|dashboard|demo|registry|store|security|versions|contracts)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Two modules that import each other (even through others, even for types) are one module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'sdk-standalone',
      comment:
        'portico/sdk runs inside services: it shares only config types and units, errors, balancing, ' +
        'resilience and trace context, never what the gateway owns.',
      severity: 'error',
      from: { path: '^src/sdk/', pathNot: testFile },
      to: { path: gatewaySide, reachable: true },
    },
    {
      name: 'lower-layers-not-gateway',
      comment: 'config, observability, the registry and the store sit under the gateway, never on top of it.',
      severity: 'error',
      from: { path: '^src/(config|observability|registry|store)/', pathNot: testFile },
      to: { path: '^src/gateway/', reachable: true },
    },
    {
      name: 'src-not-test',
      comment: 'Shipped code never imports test helpers.',
      severity: 'error',
      from: { path: '^src/', pathNot: testFile },
      to: { path: '^test/' },
    },
    {
      name: 'src-not-test-suites',
      comment: 'Shipped code never imports a test suite (the build leaves them out).',
      severity: 'error',
      from: { path: '^src/', pathNot: testFile },
      to: { path: testFile },
    },
  ],
  options: {
    includeOnly: '^(src|test|bench|scripts|examples)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/dashboard/assets/|(^|/)node_modules/' },
  },
};
