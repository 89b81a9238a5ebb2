import { cp, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// express-gateway 1.16 (unmaintained; installs and runs on Node 24) with one pipeline proxying every path. Its
// proxy policy keeps upstream connections alive by default. It reads its config from a folder, which needs
// the data models the package ships besides the two YAML files.
const require = createRequire(import.meta.url);
const port = Number(process.argv[2]);
const upstream = process.argv[3] ?? '';
const configDir = process.argv[4] ?? '';

const gatewayYaml = `http: { port: ${port}, hostname: 127.0.0.1 }
apiEndpoints: { all: { paths: '/*' } }
serviceEndpoints: { upstream: { url: ${JSON.stringify(upstream)} } }
policies: [proxy]
pipelines:
  default:
    apiEndpoints: [all]
    policies: [{ proxy: [{ action: { serviceEndpoint: upstream } }] }]
`;
const systemYaml = `db: { redis: { emulate: true, namespace: EG } }
crypto: { cipherKey: bench, algorithm: aes256, saltRounds: 10 }
session: { secret: bench, resave: false, saveUninitialized: false }
accessTokens: { timeToExpiry: 7200000 }
refreshTokens: { timeToExpiry: 7200000 }
authorizationCodes: { timeToExpiry: 300000 }
`;

await mkdir(configDir, { recursive: true });
await writeFile(join(configDir, 'gateway.config.yml'), gatewayYaml);
await writeFile(join(configDir, 'system.config.yml'), systemYaml);
const packageDir = dirname(require.resolve('express-gateway/package.json'));
await cp(join(packageDir, 'lib/config/models'), join(configDir, 'models'), { recursive: true });

const gateway = require('express-gateway') as () => { load(dir: string): { run(): unknown } };
gateway().load(configDir).run();
process.on('SIGTERM', () => process.exit(0));
