import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DURATION_PATTERN, SIZE_PATTERN } from './units.ts';

/**
 * The one source of truth for Portico's configuration: the TypeScript types, the validator
 * (ajv, see load.ts), the defaults and docs/configuration.md all come from these declarations.
 * Every field carries a one-sentence description; durations and sizes are strings parsed once at load.
 */

const Duration = (description: string, dflt?: string) =>
  Type.String({
    pattern: DURATION_PATTERN,
    description,
    ...(dflt === undefined ? {} : { default: dflt }),
  });

const Size = (description: string, dflt?: string) =>
  Type.String({
    pattern: SIZE_PATTERN,
    description,
    ...(dflt === undefined ? {} : { default: dflt }),
  });

const Obj = <T extends Record<string, TSchema>>(properties: T, description: string, dflt?: object) =>
  Type.Object(properties, {
    additionalProperties: false,
    description,
    ...(dflt === undefined ? {} : { default: dflt }),
  });

const HostPort = (description: string, dflt: string) =>
  Type.String({ minLength: 1, description, default: dflt });

const SemverText = (description: string) =>
  Type.String({
    pattern: '^v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$',
    description,
  });

const HttpMethod = Type.String({
  pattern: '^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)$',
  description: 'An HTTP method in upper case.',
});

export const TracingSchema = Obj(
  {
    otlp: Type.Optional(
      Obj(
        {
          endpoint: Type.String({
            pattern: '^https?://',
            description:
              'OTLP/HTTP traces URL of the collector, path included (e.g. http://127.0.0.1:4318/v1/traces).',
          }),
          headers: Type.Optional(
            Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String(), {
              description: 'Extra HTTP headers sent with every export (e.g. a collector API key).',
            }),
          ),
          serviceName: Type.String({
            minLength: 1,
            default: 'portico',
            description: 'The `service.name` resource attribute of the exported spans.',
          }),
          sampleRatio: Type.Number({
            minimum: 0,
            maximum: 1,
            default: 1,
            description:
              "Share of new traces exported; a continued trace follows the caller's sampled flag instead.",
          }),
        },
        "Export the gateway's span of each request over OTLP/HTTP (JSON); off when absent.",
      ),
    ),
  },
  'Distributed tracing: `traceparent` is always propagated; span export is optional. Read at start only.',
  {},
);

const TlsVersion = (description: string, dflt: string) =>
  Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { description, default: dflt });

export const ListenerCertificateSchema = Obj(
  {
    cert: Type.String({ minLength: 1, description: 'Path of the PEM certificate (the leaf first).' }),
    key: Type.String({ minLength: 1, description: 'Path of the PEM private key of the certificate.' }),
    chain: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Path of PEM intermediate certificates sent after the leaf, when `cert` holds only the leaf.',
      }),
    ),
    names: Type.Optional(
      Type.Array(Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9_.-]+$' }), {
        minItems: 1,
        description:
          "Server names (exact or `*.example.test`) this certificate is chosen for by SNI; the certificate's DNS names (SAN) when absent.",
      }),
    ),
  },
  'A certificate and its key; both files are watched and reloaded when they change.',
);

export const ListenerTlsSchema = Obj(
  {
    certificates: Type.Optional(
      Type.Array(ListenerCertificateSchema, {
        minItems: 1,
        description:
          'Certificates chosen by the server name the client sends (SNI); the first one also answers clients that send none or an unknown name.',
      }),
    ),
    acme: Type.Optional(
      Obj(
        {
          directory: Type.String({
            pattern: '^https://',
            description:
              "ACME directory URL (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory).",
          }),
          email: Type.Optional(
            Type.String({ minLength: 3, description: 'Contact address of the ACME account.' }),
          ),
          domains: Type.Optional(
            Type.Array(Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9_.-]+$' }), {
              minItems: 1,
              description: 'Names of the certificate ordered (one certificate for all of them).',
            }),
          ),
          onDemand: Type.Optional(
            Obj(
              {
                allow: Type.Array(Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9_.-]+$' }), {
                  minItems: 1,
                  description:
                    'Names that may get a certificate on demand: exact names, or `*.parent` for any one label under parent.',
                }),
                max: Type.Optional(
                  Type.Integer({
                    minimum: 1,
                    default: 100,
                    description:
                      'Most on-demand certificates this listener orders (a bound against name floods).',
                  }),
                ),
              },
              'Order a certificate for an allowed name the first time a client asks for it by SNI; until it is issued that client gets the default certificate.',
            ),
          ),
          challenge: Type.Optional(
            Type.Union([Type.Literal('http-01'), Type.Literal('tls-alpn-01')], {
              default: 'http-01',
              description:
                'Challenge answered: http-01 on the plain listeners (the CA connects to port 80), or tls-alpn-01 on this TLS listener (port 443, RFC 8737).',
            }),
          ),
          encryptionKey: Type.Optional(
            Type.String({
              minLength: 32,
              description:
                'Secret (32 characters or more, e.g. ${PORTICO_ACME_KEY}) that seals the account key and certificates with AES-256-GCM; when set they are kept in the store (embedded or Redis), shared by every node, instead of `storage`.',
            }),
          ),
          directoryCa: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                "Path of a PEM CA bundle trusted for the directory's HTTPS (private ACME servers).",
            }),
          ),
          storage: Type.Optional(
            Type.String({
              minLength: 1,
              default: './.portico/acme',
              description:
                'Folder where the account key and the certificates are kept across restarts, when no encryptionKey is set.',
            }),
          ),
        },
        'Obtain and renew a certificate automatically (ACME, RFC 8555): ordered at start when none is stored, renewed at two thirds of its lifetime.',
      ),
    ),
    minVersion: Type.Optional(
      TlsVersion('Oldest TLS version accepted; older clients are refused during the handshake.', 'TLSv1.2'),
    ),
    ciphers: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults); Node's default when absent.",
      }),
    ),
    hsts: Type.Optional(
      Obj(
        {
          maxAge: Type.Optional(
            Duration('How long browsers must only use HTTPS for this host (max-age).', '180d'),
          ),
          includeSubDomains: Type.Optional(
            Type.Boolean({ default: false, description: 'Add `includeSubDomains`.' }),
          ),
          preload: Type.Optional(Type.Boolean({ default: false, description: 'Add `preload`.' })),
        },
        'Send Strict-Transport-Security on every answer of this listener.',
      ),
    ),
    clientAuth: Type.Optional(
      Obj(
        {
          ca: Type.String({
            minLength: 1,
            description: 'Path of the PEM bundle of CAs whose client certificates are accepted.',
          }),
          mode: Type.Optional(
            Type.Union([Type.Literal('optional'), Type.Literal('required')], {
              default: 'optional',
              description:
                'required: the handshake fails without a certificate signed by `ca`; optional: a certificate is asked for and verified, the `mtls` auth method decides.',
            }),
          ),
          forward: Type.Optional(
            Type.Boolean({
              default: false,
              description:
                'Send the verified client certificate upstream in `Client-Cert` (RFC 9440); a client-sent `Client-Cert` is always removed.',
            }),
          ),
        },
        'Mutual TLS: ask clients for a certificate, verified against `ca`.',
      ),
    ),
  },
  'TLS termination on a listener.',
);

export const ListenerHttp2Schema = Obj(
  {
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'Serve HTTP/2: on TLS listeners by ALPN (`h2`, then `http/1.1`; on by default), on plain listeners as h2c with prior knowledge next to HTTP/1.1 (off by default).',
      }),
    ),
    maxConcurrentStreams: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        default: 100,
        description: 'Most streams (requests) a client may have open at once on one connection.',
      }),
    ),
    maxHeaderListSize: Type.Optional(
      Size('Largest decoded header list of one request (HPACK included); `limits.headerSize` when absent.'),
    ),
    initialWindowSize: Type.Optional(
      Size(
        'Flow-control window of each stream: how much request body a client may send before Portico reads it.',
        '64kb',
      ),
    ),
    floodWindow: Type.Optional(Duration('Window over which the flood counters below are counted.', '10s')),
    maxResets: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 200,
        description:
          'Streams a client may cancel before their answer within `floodWindow` (rapid reset, CVE-2023-44487); more close the connection with GOAWAY.',
      }),
    ),
    maxPings: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 100,
        description:
          'PING frames a client may send within `floodWindow`; more close the connection with GOAWAY.',
      }),
    ),
    maxSettings: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 100,
        description:
          'SETTINGS frames a client may send within `floodWindow`; more close the connection with GOAWAY.',
      }),
    ),
  },
  'HTTP/2 on this listener and its limits (see docs/http2.md).',
);

export const ListenerSchema = Obj(
  {
    address: Type.String({ minLength: 1, description: 'Address to listen on (host:port).' }),
    tls: Type.Optional(ListenerTlsSchema),
    redirectToHttps: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Plain listeners only: answer every request with 308 to the same path and query on https (the port of the first TLS listener, or `httpsPort`).',
      }),
    ),
    httpsPort: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description:
          'Port put in redirects when clients reach HTTPS on another port than the TLS listener (NAT).',
      }),
    ),
    http2: Type.Optional(ListenerHttp2Schema),
  },
  'A client listener: plain HTTP, HTTPS (with `tls`) or a redirect to HTTPS.',
);

export const ServiceTlsSchema = Obj(
  {
    ca: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Path of the PEM CA bundle that signs the instances' certificates; the system CAs when absent.",
      }),
    ),
    cert: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Path of the PEM client certificate presented to instances (mTLS).',
      }),
    ),
    key: Type.Optional(Type.String({ minLength: 1, description: 'Path of the PEM key of `cert`.' })),
    serverName: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Name sent by SNI and checked against the instance's certificate; the URL host when absent.",
      }),
    ),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description:
        'Verify instance certificates; false accepts any certificate (logged at start; tests only).',
    }),
  },
  'TLS towards the `https://` instances of a service (proxy, health checks and WebSocket upgrades). Files are read when the config is loaded.',
);

export const AdminSchema = Obj(
  {
    listen: HostPort(
      'Address of the admin API, registry API, /metrics and dashboard (host:port); loopback unless a token is set.',
      '127.0.0.1:8081',
    ),
    token: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          'Bearer token required on every admin call; mandatory when `listen` is not a loopback address.',
      }),
    ),
  },
  'The admin listener.',
  {},
);

export const StatusSchema = Obj(
  {
    listen: Type.String({
      minLength: 1,
      description:
        'Address of the status listener (host:port): /healthz, /readyz and /metrics, without admin rights.',
    }),
    token: Type.Optional(
      Type.String({
        minLength: 16,
        description: 'Bearer token required on /metrics of the status listener; the probes never need one.',
      }),
    ),
  },
  'A listener for probes and Prometheus only, separate from the admin API; off when absent. Read at start only.',
);

export const TokenSchema = Obj(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      description: 'Who holds the token; written to the audit log of every admin write.',
    }),
    hash: Type.String({
      pattern: '^sha256:[0-9a-fA-F]{64}$',
      description:
        'SHA-256 of the bearer token, as `sha256:` and 64 hex digits (the token itself is never stored).',
    }),
    role: Type.String({
      pattern: '^(admin|read|service:[a-z0-9][a-z0-9-]{0,62})$',
      description:
        '`admin`: everything; `read`: GET calls, the dashboard and /metrics; `service:NAME`: reads, and register, heartbeat, drain and deregister instances of service NAME (with their contracts).',
    }),
  },
  'A control-plane token and what it may do.',
);

export const StoreSchema = Obj(
  {
    kind: Type.Union([Type.Literal('embedded'), Type.Literal('redis')], {
      description: 'embedded: SQLite file on one node; redis: shared by several nodes.',
      default: 'embedded',
    }),
    path: Type.String({ description: 'embedded: folder of the database file.', default: './.portico' }),
    url: Type.Optional(
      Type.String({ pattern: '^rediss?://', description: 'redis: connection URL of a single Redis server.' }),
    ),
    sentinels: Type.Optional(
      Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]+$' }), {
        minItems: 1,
        description:
          'redis: Sentinel addresses (host:port); the primary named by `name` is asked from them and followed on failover.',
      }),
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'redis: name of the primary the sentinels watch (with sentinels).',
      }),
    ),
    nodes: Type.Optional(
      Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]+$' }), {
        minItems: 1,
        description:
          'redis: Redis Cluster seed addresses (host:port); the rest of the cluster is discovered.',
      }),
    ),
    password: Type.Optional(
      Type.String({
        description: 'redis: password of the Redis servers with sentinels or nodes (a url carries its own).',
      }),
    ),
    prefix: Type.String({ description: 'redis: prefix of every key Portico writes.', default: 'portico:' }),
    expectedNodes: Type.Integer({
      minimum: 1,
      default: 1,
      description:
        'redis: how many Portico nodes share the store; a limit with onStoreFailure local gives each node limit / expectedNodes (divided again by workers) while Redis is unreachable.',
    }),
    nodeHeartbeat: Duration(
      'How often each node records itself in the store (GET /v1/nodes); a node silent for three of these is shown as gone.',
      '2s',
    ),
  },
  'Where registry state, leases and shared counters live.',
  {},
);

export const RegistrySchema = Obj(
  {
    allowLoopback: Type.Boolean({
      default: true,
      description: 'Accept instances on loopback addresses (local development); turn off in production.',
    }),
    allow: Type.Array(Type.String(), {
      default: [],
      description: 'When not empty, only instance addresses in these CIDR ranges are accepted.',
    }),
    deny: Type.Array(Type.String(), {
      default: [],
      description:
        'Instance addresses in these CIDR ranges are always refused (link-local and metadata addresses are refused by default).',
    }),
    leaseGrace: Duration(
      'After a restart on the embedded store, or when the Redis store comes back from an outage, every lease lasts at least this long (or one TTL, if longer).',
      '30s',
    ),
  },
  'The service registry: which instance addresses may register.',
  {},
);

export const LimitsSchema = Obj(
  {
    bodySize: Size('Largest accepted request body; larger ones get 413 payload_too_large.', '10mb'),
    headerCount: Type.Integer({
      minimum: 8,
      maximum: 1000,
      default: 100,
      description: 'Most header lines accepted on a request; more get 431.',
    }),
    headerSize: Size('Largest accepted request head (request line and headers); larger get 431.', '16kb'),
    headersTimeout: Duration('Time a client has to send the complete request head.', '10s'),
    requestTimeout: Duration('Time a client has to send the complete request, body included.', '5m'),
    keepAliveTimeout: Duration('How long an idle client connection is kept open.', '65s'),
    maxConnections: Type.Integer({
      minimum: 1,
      default: 16384,
      description: 'Most client connections open at once; more are closed as soon as they are accepted.',
    }),
    maxConnectionsPerClient: Type.Integer({
      minimum: 1,
      default: 1024,
      description:
        'Most client connections open at once from one client address (trusted proxies are exempt), so a few slow clients cannot take every connection.',
    }),
  },
  'Limits on what clients may send.',
  {},
);

export const LoggingSchema = Obj(
  {
    level: Type.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Lowest level written to the log.' },
    ),
    accessLog: Type.Boolean({ default: true, description: 'Write one JSON line per proxied request.' }),
  },
  'Logs (pino JSON lines on standard output).',
  {},
);

export const MetricsSchema = Obj(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Serve Prometheus metrics at /metrics on the admin listener.',
    }),
  },
  'Prometheus metrics.',
  {},
);

export const HealthCheckSchema = Obj(
  {
    path: Type.String({
      pattern: '^/',
      description:
        'Path requested with GET on each instance; /grpc.health.v1.Health/Check calls the standard gRPC health service instead.',
    }),
    interval: Duration('Time between two checks of one instance.', '5s'),
    timeout: Duration('A check without an answer in this time fails.', '1s'),
    unhealthyThreshold: Type.Integer({
      minimum: 1,
      default: 2,
      description: 'Consecutive failed checks that take a healthy instance out of rotation.',
    }),
    healthyThreshold: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Consecutive passed checks that bring an unhealthy instance back.',
    }),
    expectStatus: Type.String({
      default: '2xx',
      pattern: '^([1-5]xx|[1-5][0-9][0-9])$',
      description: 'Status that counts as healthy: an exact code or a class such as 2xx.',
    }),
    grpcService: Type.Optional(
      Type.String({
        maxLength: 200,
        description:
          'With path /grpc.health.v1.Health/Check: the gRPC service whose health is asked (HealthCheckRequest.service, e.g. shop.orders.v1.Orders); the whole server when absent.',
      }),
    ),
  },
  'Active HTTP health check of every instance of a service.',
);

export const StaticInstanceSchema = Obj(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'Base URL of the instance (http or https, host and port).',
    }),
    version: Type.Optional(SemverText('Semantic version the instance serves.')),
    weight: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 1,
      description: 'Relative share of traffic under the weighted balancer.',
    }),
    id: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$',
        description: 'Stable instance id; derived from the URL when absent.',
      }),
    ),
  },
  'An instance declared in config.',
);

export const TimeoutsSchema = Obj(
  {
    connect: Duration('Time allowed to open a connection to an instance.', '2s'),
    request: Duration(
      'Time allowed for one try, from sending the request to the last response byte header; all tries fit in the route deadline.',
      '30s',
    ),
    idle: Type.Optional(Duration('Longest pause between two body chunks of the response.')),
  },
  'Timeouts towards the instances of a service.',
);

export const RetriesSchema = Obj(
  {
    attempts: Type.Integer({
      minimum: 0,
      maximum: 10,
      description: 'Retries after the first try, each on another instance.',
    }),
    on: Type.Array(
      Type.Union([
        Type.Literal('connect-failure'),
        Type.Literal('timeout'),
        Type.Integer({ minimum: 500, maximum: 599 }),
      ]),
      {
        description:
          'Conditions that allow a retry: connect-failure (a refused connection, retried whatever the method since nothing was sent, or a reset before any response byte), timeout (a try that got no response head in time) or a status.',
      },
    ),
    methods: Type.Optional(
      Type.Array(HttpMethod, {
        minItems: 1,
        description:
          'Methods that may be retried once the request may have reached an instance; the idempotent ones (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) when absent. List POST or PATCH only when the service makes them idempotent. A refused connection is retried for every method.',
      }),
    ),
    budget: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description:
          'Largest share of requests that may be retries, over 10 s (default 0.2); 10 retries per 10 s are always allowed.',
      }),
    ),
    backoff: Type.Optional(
      Duration('Delay before the first retry; it doubles for each further retry, half of it random.', '25ms'),
    ),
    maxBackoff: Type.Optional(Duration('Longest delay between two tries.', '1s')),
    grpcStatuses: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 16 }), {
        default: [14],
        description:
          'gRPC statuses that allow a retry when an instance answers one before any message (Trailers-Only); they count as a 503 for `on`. UNAVAILABLE (14) by default.',
      }),
    ),
  },
  'Retries of failed tries of the listed methods, each on another instance; a streamed request body cannot be replayed, so only bodiless requests and bodies already buffered for validation are retried.',
);

export const CircuitBreakerSchema = Obj(
  {
    failureRate: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Share of failed requests that opens the breaker.',
    }),
    minRequests: Type.Integer({
      minimum: 1,
      description: 'Requests in the window before the rate is judged.',
    }),
    window: Duration('Sliding window over which the failure rate is measured.'),
    openFor: Duration('How long an open breaker refuses traffic before letting probes through.'),
    halfOpenProbes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description:
          'Probe requests let through at once when half-open; that many successes close it (default 1).',
      }),
    ),
  },
  'Circuit breaker per instance and per service (resilience issue).',
);

export const BulkheadSchema = Obj(
  {
    maxConcurrent: Type.Integer({
      minimum: 1,
      description: 'Most requests in flight to the service at once.',
    }),
    queue: Type.Integer({ minimum: 0, default: 0, description: 'Requests allowed to wait for a free slot.' }),
  },
  'Concurrency limit per service (resilience issue).',
);

const HeaderName = Type.String({
  pattern: '^[A-Za-z0-9-]+$',
  description: 'A header name (letters, digits and dashes).',
});
const TemplateValue = Type.String({
  description:
    'A value; {param.NAME}, {consumer}, {requestId} and {clientIp} are filled per request, ${ENV} at load.',
});

const HeaderEditSchema = (side: string) =>
  Obj(
    {
      set: Type.Optional(
        Type.Record(HeaderName, TemplateValue, {
          description: `Headers set on the ${side}, replacing any copy already there.`,
        }),
      ),
      add: Type.Optional(
        Type.Record(HeaderName, TemplateValue, {
          description: `Headers added to the ${side}, besides any copy already there.`,
        }),
      ),
      remove: Type.Optional(Type.Array(HeaderName, { description: `Headers removed from the ${side}.` })),
      rename: Type.Optional(
        Type.Record(HeaderName, HeaderName, {
          description: `Headers of the ${side} renamed (old name: new name), values kept.`,
        }),
      ),
    },
    `Header changes on the ${side}: remove and rename first, then set and add.`,
  );

export const TransformSchema = Obj(
  {
    request: Type.Optional(
      Obj(
        {
          headers: Type.Optional(HeaderEditSchema('request sent upstream')),
          path: Type.Optional(
            Obj(
              {
                pattern: Type.String({
                  minLength: 1,
                  description:
                    'Regular expression (JavaScript syntax) matched against the upstream path, after stripPrefix and rewrite.',
                }),
                replacement: Type.String({
                  description: 'Replacement of the first match; $1 or $<name> insert a capture.',
                }),
              },
              'Path rewrite by regular expression; a path that does not match is sent unchanged.',
            ),
          ),
          query: Type.Optional(
            Obj(
              {
                set: Type.Optional(
                  Type.Record(Type.String({ minLength: 1 }), TemplateValue, {
                    description: 'Query parameters set, replacing every copy the client sent.',
                  }),
                ),
                remove: Type.Optional(
                  Type.Array(Type.String({ minLength: 1 }), { description: 'Query parameters removed.' }),
                ),
              },
              'Query parameter changes; other parameters are sent exactly as the client wrote them.',
            ),
          ),
        },
        'Changes to the request sent upstream.',
      ),
    ),
    response: Type.Optional(
      Obj(
        { headers: Type.Optional(HeaderEditSchema('answer sent to the client')) },
        "Changes to the route's answers, gateway errors included.",
      ),
    ),
  },
  'Request and response transforms (transform phase, after validation); Portico-owned headers cannot be changed.',
);

export const VersionPolicySchema = Obj(
  {
    deprecated: Type.Optional(
      Type.String({ format: 'date', description: 'Date from which the version is deprecated.' }),
    ),
    sunset: Type.Optional(
      Type.String({ format: 'date', description: 'Date after which the version is retired.' }),
    ),
    link: Type.Optional(Type.String({ description: 'URL of the migration documentation.' })),
    refuseAfterSunset: Type.Optional(
      Type.Boolean({ description: 'Answer 410 version_sunset after the sunset date.' }),
    ),
    contract: Type.Optional(Type.String({ description: 'Path of the OpenAPI document of this version.' })),
    transform: Type.Optional(TransformSchema),
  },
  'Lifecycle of one major version (versions issue).',
);

export const OutlierDetectionSchema = Obj(
  {
    enabled: Type.Boolean({ default: true, description: 'Eject instances that fail real traffic.' }),
    consecutiveFailures: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 5,
      description:
        'Consecutive failed tries (connect failure, reset, timeout or 5xx) that eject an instance.',
    }),
    baseEjectionTime: Duration(
      'How long the first ejection lasts; each repeated ejection lasts twice as long as the one before.',
      '30s',
    ),
    maxEjectionTime: Duration('Longest ejection, however often an instance was ejected.', '5m'),
    maxEjectionPercent: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 67,
      description:
        "Largest share of a service's instances ejected at once, never exceeded (the default lets 2 of 3 go; above 0, one may always be ejected; 0 never ejects).",
    }),
    stallTime: Duration(
      'An instance with consecutiveFailures tries waiting for a response head that settles no try for this long, while another instance answers, is ejected as hanging (0s turns this off).',
      '5s',
    ),
  },
  'Passive health checks: instances that fail real traffic are taken out of rotation for a while.',
  {},
);

export const LoadBalancerSchema = Type.Union(
  [
    Type.Literal('round-robin'),
    Type.Literal('weighted'),
    Type.Literal('least-request'),
    Type.Literal('consistent-hash'),
  ],
  { default: 'round-robin', description: 'How an instance is picked for each request.' },
);

export const ServiceSchema = Obj(
  {
    instances: Type.Array(StaticInstanceSchema, {
      default: [],
      description: 'Static instances; registered instances are added to these.',
    }),
    loadBalancer: LoadBalancerSchema,
    hashOn: Type.Optional(
      Type.String({
        pattern: '^(header:[A-Za-z0-9-]+|cookie:[A-Za-z0-9_-]+|ip)$',
        description:
          'consistent-hash key: header:NAME, cookie:NAME or ip (the client address, also used when absent).',
      }),
    ),
    healthCheck: Type.Optional(HealthCheckSchema),
    outlierDetection: OutlierDetectionSchema,
    panicThreshold: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description:
        'When fewer than this share of the non-draining instances are available, balance across all of them (0 turns panic mode off).',
    }),
    timeouts: Type.Optional(TimeoutsSchema),
    retries: Type.Optional(RetriesSchema),
    circuitBreaker: Type.Optional(CircuitBreakerSchema),
    bulkhead: Type.Optional(BulkheadSchema),
    tls: Type.Optional(ServiceTlsSchema),
    protocol: Type.Union([Type.Literal('http1'), Type.Literal('h2'), Type.Literal('h2c')], {
      default: 'http1',
      description:
        'HTTP version spoken to the instances: http1, h2 (HTTP/2 over TLS by ALPN, https instances) or h2c (HTTP/2 with prior knowledge, http instances); gRPC needs h2 or h2c.',
    }),
    versions: Type.Optional(
      Type.Record(Type.String({ pattern: '^[0-9]+$' }), VersionPolicySchema, {
        additionalProperties: false,
        description: 'Per-major-version policies, keyed by the major number.',
      }),
    ),
  },
  'A service: a set of instances behind one name.',
);

const RateLimitInline = Obj(
  {
    limit: Type.Integer({ minimum: 1, description: 'Requests allowed per window.' }),
    window: Duration('Length of the window.'),
    by: Type.String({
      pattern: '^(global|consumer|ip|route|header:[A-Za-z0-9-]+)$',
      description:
        'What shares one budget: global, consumer (the client address for anonymous calls), ip, route or header:NAME.',
    }),
    onStoreFailure: Type.Optional(
      Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('local')], {
        description:
          "When the shared store (Redis) is unreachable: let requests through (open, the default), refuse them with 503 (closed), or enforce this node's share of the limit in memory (local).",
      }),
    ),
    localLimit: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'With onStoreFailure local: requests per window this node (each worker) allows on its own while the store is unreachable (default: limit / store.expectedNodes / workers).',
      }),
    ),
  },
  'A rate limit: `limit` requests per `window`, enforced with GCRA (see docs/security.md).',
);
const RateLimitRef = Type.Union([
  Type.String({ description: 'Name of a limit under top-level rateLimits.' }),
  RateLimitInline,
]);

export const IpRulesSchema = Obj(
  {
    allow: Type.Array(Type.String(), {
      default: [],
      description:
        'When not empty, only client addresses in these addresses or CIDR ranges (IPv4 or IPv6) are served.',
    }),
    deny: Type.Array(Type.String(), {
      default: [],
      description: 'Client addresses in these addresses or CIDR ranges are refused, even when allowed.',
    }),
  },
  'Client address rules, checked on the trusted client address (after trustedProxies); refused requests get 403 forbidden_address.',
);

export const RouteCacheSchema = Obj(
  {
    ttl: Duration(
      'How long an answer stays fresh when it gives no freshness of its own (max-age, s-maxage or Expires).',
      '60s',
    ),
    maxBodySize: Size('Largest answer body stored; larger answers pass through uncached.', '1mb'),
    key: Type.Array(
      Type.String({
        pattern: '^(method|path|query|host|consumer|header:[A-Za-z0-9-]+)$',
        description: 'A key part: method, path, query, host, consumer or header:NAME.',
      }),
      {
        default: ['method', 'path', 'query'],
        description:
          'What tells two answers apart, besides the route and the Vary header of the answer (add host when the service answers per Host); purge prefixes follow this order.',
      },
    ),
    store: Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
      default: 'memory',
      description:
        "Where answers are kept: memory (this node's, bounded by responseCache.maxSize) or redis (shared by every node; needs store.kind redis).",
    }),
  },
  'Shared response cache (RFC 9111) on this route: GET and HEAD answers are stored and served following their Cache-Control.',
);

export const CompressSchema = Obj(
  {
    encodings: Type.Array(Type.Union([Type.Literal('zstd'), Type.Literal('br'), Type.Literal('gzip')]), {
      minItems: 1,
      default: ['br', 'gzip'],
      description:
        "Encodings offered, the server's preference first when the client rates several equally (zstd, br, gzip).",
    }),
    minSize: Size('Answers with a declared length below this are sent as they are.', '1kb'),
    types: Type.Array(Type.String({ minLength: 1 }), {
      default: [
        'application/json',
        'application/*+json',
        'application/javascript',
        'application/xml',
        'application/*+xml',
        'image/svg+xml',
        'text/html',
        'text/css',
        'text/plain',
        'text/xml',
        'text/csv',
        'text/javascript',
      ],
      description:
        'Content types compressed (parameters ignored); `type/*` and `type/*+suffix` match families.',
    }),
  },
  'Compression of answers negotiated with Accept-Encoding, streamed; never for answers already encoded or marked Cache-Control: no-transform.',
);

export const MirrorSchema = Obj(
  {
    service: Type.String({ description: 'Name of the service under `services` that receives the copies.' }),
    percent: Type.Number({
      minimum: 0,
      maximum: 100,
      default: 100,
      description: "Share of the route's requests copied, in percent.",
    }),
    maxBodySize: Size(
      'Requests with a larger (or unknown, chunked) body are not copied; copied bodies are read before proxying.',
      '64kb',
    ),
    maxConcurrent: Type.Integer({
      minimum: 1,
      default: 32,
      description:
        'Most copies in flight at once per route; further requests are not copied while it is reached.',
    }),
    timeout: Duration('A copy without a complete answer in this time is abandoned.', '5s'),
  },
  "Shadow traffic: copies of the route's requests sent to another service, answers discarded; the client's request never waits for them.",
);

export const ResponseCacheSchema = Obj(
  {
    maxSize: Size('Most bytes the in-memory cache holds; the least recently used answers go first.', '64mb'),
  },
  'The response cache shared by every route with `cache`.',
  {},
);

export const RouteMatchSchema = Obj(
  {
    path: Type.String({
      pattern: '^/',
      description: 'Path pattern: literal segments, {name} parameters, * for one segment, ** for the rest.',
    }),
    methods: Type.Optional(
      Type.Array(HttpMethod, { minItems: 1, description: 'Methods matched; all when absent.' }),
    ),
    host: Type.Optional(
      Type.String({
        description: 'Host matched, exact (api.example.test) or with a leading wildcard (*.example.test).',
      }),
    ),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'Headers that must be present with exactly these values (names are case-insensitive).',
      }),
    ),
  },
  'What requests a route serves.',
);

const FallbackSchema = Obj(
  {
    status: Type.Integer({ minimum: 200, maximum: 599, description: 'Status of the fallback answer.' }),
    body: Type.Optional(Type.Unknown({ description: 'JSON body of the fallback answer.' })),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Extra response headers.' }),
    ),
  },
  'Static answer used when the service has no healthy instance or its breaker is open (resilience issue).',
);

/** A plugin's name: what routes use under `plugins`, and the label of its log lines. */
export const PLUGIN_NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';

export const PluginSchema = Obj(
  {
    module: Type.String({
      minLength: 1,
      description:
        'The module exporting the plugin: a path relative to the config file (./plugins/sign.ts) or a package name.',
    }),
  },
  'A custom stage loaded when the config is compiled (docs/plugins.md).',
);

export const RouteSchema = Obj(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      description: 'Unique route name, used in logs and metrics.',
    }),
    match: RouteMatchSchema,
    service: Type.String({ description: 'Name of the service under `services` that serves the route.' }),
    stripPrefix: Type.Optional(
      Type.String({ pattern: '^/', description: 'Prefix removed from the path before proxying.' }),
    ),
    rewrite: Type.Optional(
      Type.String({
        pattern: '^/',
        description: 'Path sent upstream instead of the request path; {name} inserts a path parameter.',
      }),
    ),
    timeout: Type.Optional(Duration('Overall deadline of the request, all tries included.')),
    preserveHost: Type.Boolean({
      default: false,
      description: 'Send the client Host header upstream instead of the instance host.',
    }),
    websocket: Type.Boolean({ default: true, description: 'Proxy WebSocket upgrades on this route.' }),
    version: Type.Optional(
      Obj(
        {
          from: Type.Array(
            Type.Union([Type.Literal('path'), Type.Literal('header'), Type.Literal('media-type')]),
            {
              minItems: 1,
              description: 'Where the requested version is read from, in order.',
            },
          ),
          default: Type.Optional(
            Type.String({ description: 'Semver range used when the client names none.' }),
          ),
          pin: Type.Boolean({
            default: false,
            description:
              'Pin each consumer to the major it was first served: later calls naming no version get it, even after the default moves on (shared by nodes through the store).',
          }),
        },
        'Version selection (versions issue).',
      ),
    ),
    split: Type.Optional(
      Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 0, maximum: 100 }), {
        additionalProperties: false,
        description: 'Canary weights by major version (versions issue).',
      }),
    ),
    auth: Type.Optional(
      Type.Array(Type.Union([Type.Literal('jwt'), Type.Literal('apiKey'), Type.Literal('mtls')]), {
        minItems: 1,
        description: 'Accepted authentication methods; any one suffices.',
      }),
    ),
    scopes: Type.Optional(
      Type.Union([Type.Array(Type.String()), Type.Record(Type.String(), Type.Array(Type.String()))], {
        description: 'Scopes required (all of them), for every method or per method with "*" as the rest.',
      }),
    ),
    rateLimit: Type.Optional(
      Type.Union([RateLimitRef, Type.Array(RateLimitRef)], {
        description: 'Rate limits applied: a route-own limit, the name of a shared one, or a list of both.',
      }),
    ),
    validate: Type.Optional(
      Type.Union([Type.Literal('request'), Type.Literal('request-and-response'), Type.Literal('none')], {
        description:
          'Check requests against the contract of the chosen version (400 validation_failed); request-and-response also checks answers, report-only (logged and counted, never altered).',
      }),
    ),
    fallback: Type.Optional(FallbackSchema),
    ipRules: Type.Optional(IpRulesSchema),
    transform: Type.Optional(TransformSchema),
    cache: Type.Optional(RouteCacheSchema),
    compress: Type.Optional(CompressSchema),
    mirror: Type.Optional(MirrorSchema),
    plugins: Type.Optional(
      Type.Record(Type.String({ pattern: PLUGIN_NAME_PATTERN }), Type.Unknown(), {
        description:
          "Plugins this route runs, by name, each with its options (checked against the plugin's own schema).",
      }),
    ),
  },
  'A route: which requests go to which service, through which policies.',
);

export const AggregateSchema = Obj(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      description: 'Unique aggregate name.',
    }),
    match: RouteMatchSchema,
    auth: Type.Optional(
      Type.Array(Type.Union([Type.Literal('jwt'), Type.Literal('apiKey'), Type.Literal('mtls')]), {
        minItems: 1,
        description: 'Accepted authentication methods; any one suffices.',
      }),
    ),
    calls: Type.Record(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
      Obj(
        {
          service: Type.String({ description: 'Service called.' }),
          path: Type.String({ description: 'Path and query, with {param} and {call.field} placeholders.' }),
          method: Type.Optional(HttpMethod),
          after: Type.Optional(Type.String({ description: 'Call whose answer this call needs.' })),
          optional: Type.Optional(
            Type.Boolean({ description: 'A failure leaves the key null instead of failing.' }),
          ),
          timeout: Type.Optional(Duration('Deadline of this call.')),
        },
        'One call of an aggregate.',
      ),
      {
        additionalProperties: false,
        description: 'Calls made, keyed by the name of their key in the answer.',
      },
    ),
  },
  'A composite route that merges the answers of several services (resilience issue).',
);

const JwtAlgorithm = Type.Union(
  [
    'HS256',
    'HS384',
    'HS512',
    'RS256',
    'RS384',
    'RS512',
    'PS256',
    'PS384',
    'PS512',
    'ES256',
    'ES384',
    'ES512',
    'EdDSA',
    'Ed25519',
  ].map((alg) => Type.Literal(alg)),
  { description: 'A JWS algorithm; `none` is never accepted.' },
);

export const AuthSchema = Obj(
  {
    jwt: Type.Optional(
      Obj(
        {
          issuer: Type.Optional(Type.String({ description: 'Required `iss` claim.' })),
          audience: Type.Optional(
            Type.String({ description: "Required `aud` claim (one of the token's audiences)." }),
          ),
          secret: Type.Optional(
            Type.String({ minLength: 1, description: 'HMAC secret for the HS* algorithms.' }),
          ),
          jwks: Type.Optional(
            Type.String({
              pattern: '^https?://',
              description: 'URL of a JWKS document with the public keys (RS/PS/ES/EdDSA).',
            }),
          ),
          keys: Type.Optional(
            Type.Array(Type.Record(Type.String(), Type.Unknown()), {
              minItems: 1,
              description:
                'Inline public keys as JWK objects (RS/PS/ES/EdDSA), instead of or besides `jwks`.',
            }),
          ),
          algorithms: Type.Array(JwtAlgorithm, {
            minItems: 1,
            description: 'Accepted algorithms; a token signed with any other is refused.',
          }),
          clockSkew: Duration('Tolerance on `exp` and `nbf` for clocks that disagree.', '30s'),
          consumerClaim: Type.String({
            default: 'sub',
            pattern: '^[A-Za-z0-9_.:-]{1,64}$',
            description: 'Claim naming the consumer (sent upstream as X-Consumer-Id).',
          }),
          jwksCacheTtl: Duration('How long fetched JWKS keys are used before they are fetched again.', '10m'),
          jwksCooldown: Duration(
            'Shortest time between two JWKS fetches triggered by tokens with an unknown `kid`.',
            '30s',
          ),
          cacheSize: Type.Integer({
            minimum: 0,
            default: 10000,
            description:
              'Verified tokens remembered (by hash, until they expire) to skip verifying them again; 0 disables.',
          }),
        },
        'JWT bearer tokens (Authorization: Bearer).',
      ),
    ),
    apiKeys: Type.Optional(
      Obj(
        {
          header: Type.String({
            default: 'x-api-key',
            pattern: '^[A-Za-z0-9-]+$',
            description: 'Header carrying the key.',
          }),
          query: Type.Optional(
            Type.String({
              pattern: '^[A-Za-z0-9_.-]+$',
              description: 'Query parameter that may carry the key instead; it is removed before proxying.',
            }),
          ),
        },
        'API keys, matched against the hashed keys of `consumers`.',
      ),
    ),
  },
  'Authentication methods that routes name in `auth`.',
);

export const ConsumerSchema = Obj(
  {
    id: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$',
      description: 'Consumer id, sent upstream as X-Consumer-Id.',
    }),
    apiKeys: Type.Optional(
      Type.Array(Type.String({ pattern: '^sha256:[0-9a-fA-F]{64}$' }), {
        description: "SHA-256 hashes of the consumer's API keys, as `sha256:` and 64 hex digits.",
      }),
    ),
    certificates: Type.Optional(
      Type.Array(
        Type.String({
          pattern: '^(sha256:[0-9A-Fa-f:]{64,95}|subject:.+|san:(DNS|email|URI|IP):.+)$',
          description: 'sha256:HEX, subject:DN or san:TYPE:VALUE',
        }),
        {
          description:
            'Client certificates that identify this consumer for the `mtls` auth method: `sha256:` and the certificate fingerprint, `subject:` and the subject DN (`CN=app, O=Shop`), or `san:` and a subject alternative name (`san:DNS:app.example.test`, `san:email:…`, `san:URI:…`, `san:IP:…`).',
        },
      ),
    ),
    scopes: Type.Optional(
      Type.Array(Type.String({ pattern: '^[\\x21-\\x7e]+$' }), { description: 'Scopes granted.' }),
    ),
    rateLimit: Type.Optional(RateLimitInline),
  },
  'A known API consumer.',
);

export const CorsSchema = Obj(
  {
    origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^/\\s]+)$' }), {
      minItems: 1,
      description: 'Allowed origins (scheme://host[:port]), or "*" for any origin.',
    }),
    methods: Type.Array(HttpMethod, {
      default: ['GET', 'HEAD', 'POST'],
      description: 'Methods a cross-origin request may use.',
    }),
    headers: Type.Array(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), {
      default: [],
      description: 'Request headers a cross-origin request may send (case-insensitive).',
    }),
    exposeHeaders: Type.Array(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), {
      default: [],
      description: 'Response headers scripts of an allowed origin may read.',
    }),
    maxAge: Type.Optional(Duration('How long a browser may cache a preflight answer.')),
    credentials: Type.Boolean({
      default: false,
      description: 'Allow credentials (cookies, Authorization) on cross-origin requests.',
    }),
  },
  'CORS policy, applied by the gateway on every route; preflights are answered without reaching a service.',
);

export const ConfigSchema = Obj(
  {
    listen: Type.Union(
      [Type.String({ minLength: 1 }), ListenerSchema, Type.Array(ListenerSchema, { minItems: 1 })],
      {
        default: '127.0.0.1:8080',
        description:
          'Client listeners: one plain `host:port`, or one or more listener objects (plain, TLS, or redirecting to HTTPS). Read at start; certificate files are watched.',
      },
    ),
    admin: AdminSchema,
    status: Type.Optional(StatusSchema),
    tokens: Type.Array(TokenSchema, {
      default: [],
      description:
        'Scoped tokens for the admin listener (`admin.token`, when set, is one more token with the `admin` role).',
    }),
    store: StoreSchema,
    registry: RegistrySchema,
    trustedProxies: Type.Array(Type.String(), {
      default: [],
      description:
        'Addresses or CIDR ranges allowed to set X-Forwarded-For / Forwarded for the client address.',
    }),
    ipRules: Type.Optional(IpRulesSchema),
    responseCache: ResponseCacheSchema,
    limits: LimitsSchema,
    logging: LoggingSchema,
    metrics: MetricsSchema,
    tracing: TracingSchema,
    shutdownTimeout: Duration('Longest wait for in-flight requests on shutdown.', '30s'),
    workers: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
      default: 1,
      description:
        'Gateway processes behind the same ports (`auto`: one per core); they share registry state, rate limits and metrics. Read at start only.',
    }),
    services: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), ServiceSchema, {
      additionalProperties: false,
      default: {},
      description: 'Services by name.',
    }),
    routes: Type.Array(RouteSchema, { default: [], description: 'Routes, in order.' }),
    aggregates: Type.Optional(Type.Array(AggregateSchema, { description: 'Composite routes.' })),
    auth: Type.Optional(AuthSchema),
    consumers: Type.Optional(Type.Array(ConsumerSchema, { description: 'Known consumers.' })),
    rateLimits: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }), RateLimitInline, {
        additionalProperties: false,
        description: 'Named limits: one budget shared by every route that names it.',
      }),
    ),
    plugins: Type.Optional(
      Type.Array(PluginSchema, {
        description:
          'Custom stages, loaded from their modules when the config is compiled; routes use them by name.',
      }),
    ),
    cors: Type.Optional(CorsSchema),
  },
  'Portico configuration file.',
);

export type Config = Static<typeof ConfigSchema>;
export type ListenerConfig = Static<typeof ListenerSchema>;
export type ListenerHttp2Config = Static<typeof ListenerHttp2Schema>;
export type ListenerTlsConfig = Static<typeof ListenerTlsSchema>;
export type ListenerCertificateConfig = Static<typeof ListenerCertificateSchema>;
export type ServiceTlsConfig = Static<typeof ServiceTlsSchema>;
export type ServiceConfig = Static<typeof ServiceSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type RouteMatchConfig = Static<typeof RouteMatchSchema>;
export type AggregateConfig = Static<typeof AggregateSchema>;
export type HealthCheckConfig = Static<typeof HealthCheckSchema>;
export type OutlierDetectionConfig = Static<typeof OutlierDetectionSchema>;
export type StaticInstanceConfig = Static<typeof StaticInstanceSchema>;
export type LoadBalancerName = Static<typeof LoadBalancerSchema>;
export type AuthConfig = Static<typeof AuthSchema>;
export type JwtConfig = NonNullable<AuthConfig['jwt']>;
export type ConsumerConfig = Static<typeof ConsumerSchema>;
export type RateLimitConfig = Static<typeof RateLimitInline>;
export type CorsConfig = Static<typeof CorsSchema>;
export type StatusConfig = Static<typeof StatusSchema>;
export type TokenConfig = Static<typeof TokenSchema>;
export type IpRulesConfig = Static<typeof IpRulesSchema>;
export type TransformConfig = Static<typeof TransformSchema>;
export type RouteCacheConfig = Static<typeof RouteCacheSchema>;
export type ResponseCacheConfig = Static<typeof ResponseCacheSchema>;
export type CompressConfig = Static<typeof CompressSchema>;
export type MirrorConfig = Static<typeof MirrorSchema>;
export type HeaderEditConfig = NonNullable<NonNullable<TransformConfig['request']>['headers']>;
export type TracingConfig = Static<typeof TracingSchema>;
export type OtlpTracingConfig = NonNullable<TracingConfig['otlp']>;
