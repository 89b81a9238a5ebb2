/* global document, sessionStorage, fetch, AbortController, setTimeout, clearInterval, setInterval */
import {
  KeyedRows,
  createScheduler,
  errorClass,
  formatLease,
  formatMs,
  formatPercent,
  formatRate,
  setText,
} from './render.js';
import { Unauthorized, followEventStream } from './sse.js';

const tokenKey = 'portico-admin-token';
/** Rows shown in the instance table at most; the filter narrows larger services. */
const maxInstanceRows = 500;
const maxEvents = 100;
const statsEveryMs = 1000;
const stateEveryMs = 2000;
const usageEveryMs = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(tokenKey) ?? '',
  /** service → Map(id → registered instance), from the watch stream. */
  registry: new Map(),
  revision: 0,
  /** The gateway's view (GET /v1/dashboard/state). */
  runtime: { routes: [], services: [] },
  runtimeByService: new Map(),
  stats: undefined,
  /** Newest first. */
  events: [],
  selected: undefined,
  filter: '',
  /** The version whose contract is shown. */
  contract: undefined,
  /** Usage per major and pins of the selected service: { service, majors, pins }. */
  usage: undefined,
  /** GET /v1/cache. */
  cache: undefined,
  /** Whether the token may change things (GET /v1/whoami). */
  admin: false,
  running: undefined,
};

const tables = {
  routeTraffic: new KeyedRows($('route-traffic').tBodies[0], 6, { numeric: [2, 3, 4, 5] }),
  serviceTraffic: new KeyedRows($('service-traffic').tBodies[0], 5, {
    numeric: [1, 2, 3, 4],
    onClick: select,
  }),
  services: new KeyedRows($('service-table').tBodies[0], 9, { numeric: [2, 3, 4, 5, 6], onClick: select }),
  instances: new KeyedRows($('instance-table').tBodies[0], 9, { numeric: [7, 8] }),
  routes: new KeyedRows($('route-table').tBodies[0], 6),
  nodes: new KeyedRows($('node-table').tBodies[0], 6),
  events: new KeyedRows($('event-table').tBodies[0], 7, { numeric: [1] }),
  changes: new KeyedRows($('contract-changes').tBodies[0], 4),
  usage: new KeyedRows($('usage-table').tBodies[0], 6, { numeric: [1, 2, 5] }),
  pins: new KeyedRows($('pin-table').tBodies[0], 3),
  cache: new KeyedRows($('cache-table').tBodies[0], 7, { numeric: [1, 2, 3, 4, 5, 6] }),
};

const schedule = createScheduler(render);

function headers(token = state.token) {
  return token === '' ? {} : { authorization: `Bearer ${token}` };
}

async function api(path, token = state.token) {
  const res = await fetch(path, { headers: headers(token), cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res;
}

// --- login -------------------------------------------------------------------------------------------------

function showLogin(message) {
  stop();
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  setText($('login-error'), message);
  $('login-error').hidden = message === '';
  setConnection('idle', 'signed out');
  $('token').focus();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token').value;
  try {
    const res = await api('/v1/dashboard/state', token);
    state.token = token;
    sessionStorage.setItem(tokenKey, token);
    $('token').value = '';
    applyRuntime(await res.json());
    start();
  } catch (err) {
    showLogin(
      err instanceof Unauthorized ? 'The token was refused.' : `The gateway did not answer (${err.message}).`,
    );
  }
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(tokenKey);
  state.token = '';
  showLogin('');
});

// --- data --------------------------------------------------------------------------------------------------

function start() {
  stop();
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = state.token === '';
  void showPermissions();
  const controller = new AbortController();
  const timers = [
    setInterval(() => void poll(refreshStats), statsEveryMs),
    setInterval(() => void poll(refreshRuntime), stateEveryMs),
    setInterval(() => void poll(refreshCache), stateEveryMs),
    setInterval(() => void poll(refreshUsage), usageEveryMs),
    setInterval(() => void poll(refreshNodes), stateEveryMs),
  ];
  state.running = { controller, timers };
  void poll(refreshStats);
  void poll(refreshCache);
  void poll(refreshNodes);
  void watch(controller.signal);
  schedule('all');
}

/** Shows who the token is and what it may do, from GET /v1/whoami. */
async function showPermissions() {
  try {
    const me = await (await api('/v1/whoami')).json();
    const writes = me.may.registerServices.includes('*')
      ? 'may change everything'
      : me.may.registerServices.length > 0
        ? `may register ${me.may.registerServices.join(', ')}; read-only otherwise`
        : 'read-only';
    $('whoami').textContent = `${me.name} (${me.role}): ${writes}`;
    state.admin = me.role === 'admin';
    schedule('usage');
    $('whoami').hidden = false;
  } catch {
    $('whoami').hidden = true;
  }
}

function stop() {
  const running = state.running;
  if (running === undefined) return;
  state.running = undefined;
  running.controller.abort();
  for (const timer of running.timers) clearInterval(timer);
}

async function poll(refresh) {
  try {
    await refresh();
  } catch (err) {
    if (err instanceof Unauthorized) showLogin('The token is no longer accepted.');
  }
}

async function refreshStats() {
  state.stats = await (await api('/v1/stats')).json();
  schedule('traffic');
  // Lease countdowns move every second.
  if (state.selected !== undefined) schedule('detail');
}

/** The nodes sharing the store and the configuration revision each runs (GET /v1/nodes, /v1/config/status). */
async function refreshNodes() {
  const [nodes, status] = await Promise.all([
    api('/v1/nodes').then((res) => res.json()),
    api('/v1/config/status').then((res) => res.json()),
  ]);
  state.nodes = nodes.nodes;
  state.configLatest = status.latest;
  schedule('nodes');
}

async function refreshRuntime() {
  applyRuntime(await (await api('/v1/dashboard/state')).json());
}

function applyRuntime(runtime) {
  state.runtime = runtime;
  state.runtimeByService = new Map(runtime.services.map((service) => [service.name, service]));
  schedule('services');
  schedule('routes');
  schedule('detail');
}

/** Follows GET /v1/watch, resuming after the last revision seen when the stream breaks. */
async function watch(signal) {
  let delayMs = 250;
  while (!signal.aborted) {
    try {
      const since = state.revision > 0 ? `?since=${state.revision}` : '';
      await followEventStream(`/v1/watch${since}`, headers(), signal, {
        onOpen() {
          delayMs = 250;
          setConnection('live', 'live');
        },
        onEvent: applyWatchEvent,
        onId(id) {
          state.revision = Number(id);
        },
      });
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof Unauthorized) return showLogin('The token is no longer accepted.');
    }
    if (signal.aborted) return;
    setConnection('retrying', 'reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

function applyWatchEvent(frame) {
  const data = JSON.parse(frame.data);
  if (frame.event === 'snapshot') {
    state.registry.clear();
    for (const instance of data.instances) put(instance);
    state.revision = data.revision;
    addEvent({
      revision: data.revision,
      kind: 'snapshot',
      service: '',
      id: `${data.instances.length} instances`,
    });
  } else if (frame.event === 'upsert' || frame.event === 'delete') {
    if (frame.event === 'upsert') put(data.instance);
    else state.registry.get(data.service)?.delete(data.id);
    if (state.registry.get(data.service)?.size === 0) state.registry.delete(data.service);
    state.revision = data.revision;
    addEvent({
      revision: data.revision,
      kind: data.reason,
      service: data.service,
      id: data.id,
      version: data.instance?.version,
      status: frame.event === 'delete' ? 'gone' : data.instance?.status,
    });
  }
  schedule('services');
  schedule('detail');
  schedule('events');
}

function put(instance) {
  let instances = state.registry.get(instance.service);
  if (instances === undefined) {
    instances = new Map();
    state.registry.set(instance.service, instances);
  }
  instances.set(instance.id, instance);
}

function addEvent(event) {
  state.events.unshift({ ...event, at: new Date() });
  if (state.events.length > maxEvents) state.events.length = maxEvents;
}

function setConnection(kind, text) {
  const pill = $('connection');
  pill.dataset.state = kind;
  setText(pill, text);
}

function select(service) {
  state.selected = state.selected === service ? undefined : service;
  state.contract = undefined;
  state.usage = undefined;
  schedule('detail');
  schedule('services');
  schedule('usage');
  void poll(refreshUsage);
}

// --- version usage and pins --------------------------------------------------------------------------------

/** The majors the selected service runs, from the registry and the gateway's own instances. */
function majorsOf(service) {
  const majors = new Set();
  for (const instance of state.registry.get(service)?.values() ?? [])
    if (instance.version) majors.add(instance.version.split('.')[0]);
  for (const instance of state.runtimeByService.get(service)?.instances ?? [])
    if (instance.version) majors.add(instance.version.split('.')[0]);
  return [...majors].sort((a, b) => Number(a) - Number(b));
}

async function refreshUsage() {
  const service = state.selected;
  if (service === undefined) return;
  const base = `/v1/services/${encodeURIComponent(service)}`;
  const [pins, ...majors] = await Promise.all([
    api(`${base}/pins`).then((res) => res.json()),
    ...majorsOf(service).map((major) =>
      api(`${base}/versions/${major}/usage?days=30`).then((res) => res.json()),
    ),
  ]);
  if (state.selected !== service) return;
  state.usage = { service, majors, pins };
  schedule('usage');
}

$('pin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const service = state.selected;
  if (service === undefined) return;
  const consumer = $('pin-consumer').value.trim();
  const version = $('pin-major').value.trim();
  const res = await fetch(
    `/v1/services/${encodeURIComponent(service)}/pins/${encodeURIComponent(consumer)}`,
    {
      method: 'PUT',
      headers: { ...headers(), 'content-type': 'application/json' },
      body: JSON.stringify({ version }),
    },
  );
  setText($('pin-result'), res.ok ? `${consumer} pinned to ${version}` : `refused (${res.status})`);
  await poll(refreshUsage);
});

function renderUsage() {
  const usage = state.usage;
  $('version-usage').hidden = usage === undefined || usage.service !== state.selected;
  $('pin-form').hidden = !state.admin;
  if (usage === undefined) return;
  tables.usage.update(
    usage.majors,
    (line) => line.version,
    (line) => [
      `v${line.version}`,
      String(line.requests),
      String(line.consumers.length),
      line.consumers[0]?.consumer ?? '–',
      line.consumers.length === 0
        ? '–'
        : new Date(Math.max(...line.consumers.map((c) => Date.parse(c.lastSeenAt)))).toISOString(),
      [String(line.pinnedConsumers), line.pinnedConsumers > 0 ? 'warn' : ''],
    ],
  );
  tables.pins.update(
    usage.pins.pins,
    (pin) => pin.consumer,
    (pin) => [pin.consumer, `v${pin.version}`, pin.pinnedAt],
  );
}

// --- response cache ----------------------------------------------------------------------------------------

async function refreshCache() {
  state.cache = await (await api('/v1/cache')).json();
  schedule('cache');
}

function renderCache() {
  const cache = state.cache;
  const routes = Object.entries(cache?.routes ?? {});
  $('cache').hidden = routes.length === 0;
  if (routes.length === 0) return;
  setText(
    $('cache-size'),
    `${cache.keys} keys, ${(cache.bytes / 1024).toFixed(1)} KiB of ${(cache.maxBytes / 1048576).toFixed(0)} MiB`,
  );
  tables.cache.update(
    routes,
    ([route]) => route,
    ([route, line]) => [
      route,
      formatPercent(line.hitRatio),
      String(line.hit),
      String(line.stale),
      String(line.miss),
      String(line.bypass),
      String(line.stored),
    ],
  );
}

$('instance-filter').addEventListener('input', (event) => {
  state.filter = event.target.value.trim().toLowerCase();
  schedule('detail');
});

// --- contracts ---------------------------------------------------------------------------------------------

async function showContract(service, version) {
  state.contract = { service, version };
  const base = `/v1/services/${encodeURIComponent(service)}/versions`;
  const section = $('contract');
  section.hidden = false;
  setText($('contract-title'), `${service} ${version}: contract`);
  setText($('contract-summary'), 'Loading…');
  try {
    const [text, diff] = await Promise.all([
      api(`${base}/${encodeURIComponent(version)}/contract`).then((res) => res.text()),
      api(`${base}/${encodeURIComponent(version)}/contract/diff`).then((res) => res.json()),
    ]);
    const before =
      diff.against === null
        ? ''
        : await api(`${base}/${encodeURIComponent(diff.against)}/contract`).then((res) => res.text());
    if (state.contract?.version !== version || state.contract.service !== service) return;
    setText(
      $('contract-summary'),
      diff.against === null
        ? 'No earlier version with a contract to compare with.'
        : `Compared with ${diff.against}: ${diff.breaking} breaking, ${diff.warnings} warning(s), ${diff.changes.length} change(s) in all.`,
    );
    tables.changes.update(
      diff.changes,
      (change) => `${change.rule} ${change.operation} ${change.location}`,
      (change) => [
        [
          change.severity + (change.ignored ? ' (accepted)' : ''),
          change.severity === 'breaking' ? 'bad' : '',
        ],
        change.operation || '(document)',
        change.location,
        change.message,
      ],
    );
    setText(
      $('contract-before-title'),
      diff.against === null ? 'Previous: none' : `Previous: ${diff.against}`,
    );
    setText($('contract-after-title'), `This version: ${version}`);
    setText($('contract-before'), pretty(before));
    setText($('contract-after'), pretty(text));
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin('The token is no longer accepted.');
    setText($('contract-summary'), `The contract could not be loaded (${err.message}).`);
  }
}

function pretty(text) {
  if (text === '') return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// --- rendering ---------------------------------------------------------------------------------------------

function render(parts) {
  const all = parts.has('all');
  if (all || parts.has('services')) renderServices();
  if (all || parts.has('detail')) renderDetail();
  if (all || parts.has('routes')) renderRoutes();
  if (all || parts.has('nodes')) renderNodes();
  if (all || parts.has('traffic')) renderTraffic();
  if (all || parts.has('events')) renderEvents();
  if (all || parts.has('usage') || parts.has('detail')) renderUsage();
  if (all || parts.has('cache')) renderCache();
  renderSummary();
}

function serviceNames() {
  const names = new Set(state.registry.keys());
  for (const service of state.runtime.services) names.add(service.name);
  return [...names].sort();
}

function renderSummary() {
  let registered = 0;
  for (const instances of state.registry.values()) registered += instances.size;
  let available = 0;
  let total = 0;
  for (const service of state.runtime.services) {
    available += service.available;
    total += service.total;
  }
  setText($('count-services'), String(serviceNames().length));
  setText($('count-registered'), String(registered));
  setText($('count-available'), `${available} / ${total}`);
  setText($('count-routes'), String(state.runtime.routes.length));
  setText($('revision'), String(state.revision));
  const stats = state.stats;
  if (stats !== undefined) {
    let rps = 0;
    let requests = 0;
    let errors = 0;
    for (const route of stats.routes) {
      rps += route.requestsPerSecond;
      requests += route.requests;
      errors += route.errorRate * route.requests;
    }
    setText($('total-rps'), formatRate(rps));
    setText($('total-errors'), formatPercent(requests === 0 ? 0 : errors / requests));
  }
}

function renderServices() {
  tables.services.update(
    serviceNames(),
    (name) => name,
    (name) => {
      const registered = state.registry.get(name);
      const runtime = state.runtimeByService.get(name);
      const versions = new Set();
      const counts = { passing: 0, critical: 0, draining: 0 };
      for (const instance of registered?.values() ?? []) {
        versions.add(instance.version);
        counts[instance.status] = (counts[instance.status] ?? 0) + 1;
      }
      for (const instance of runtime?.instances ?? [])
        if (instance.version !== null) versions.add(instance.version);
      return [
        name,
        [...versions].sort().join(', ') || '–',
        String(registered?.size ?? 0),
        [String(counts.passing), 'ok'],
        [String(counts.critical), counts.critical > 0 ? 'bad' : ''],
        [String(counts.draining), counts.draining > 0 ? 'warn' : ''],
        runtime === undefined
          ? ['not routed', 'warn']
          : [`${runtime.available} / ${runtime.total}`, runtime.available < runtime.total ? 'warn' : 'ok'],
        breakerCell(runtime?.breaker),
        runtime?.panic === true ? ['panic', 'bad'] : 'no',
      ];
    },
  );
  tables.services.select(state.selected);
}

function breakerCell(breaker) {
  if (breaker === null || breaker === undefined) return '–';
  return [breaker, breaker === 'open' ? 'bad' : breaker === 'half-open' ? 'warn' : 'ok'];
}

function renderDetail() {
  const name = state.selected;
  $('service-detail').hidden = name === undefined;
  if (state.contract === undefined) $('contract').hidden = true;
  if (name === undefined) return;
  const registered = state.registry.get(name) ?? new Map();
  const runtime = state.runtimeByService.get(name);
  setText($('detail-title'), name);
  const policies = $('detail-policies');
  const wanted = (runtime?.policies ?? ['not in the gateway configuration: registered only']).join('\n');
  if (policies.dataset.text !== wanted) {
    policies.dataset.text = wanted;
    policies.replaceChildren(
      ...wanted.split('\n').map((policy) => {
        const li = document.createElement('li');
        li.textContent = policy;
        return li;
      }),
    );
  }
  renderVersions(name, registered);

  const rows = [];
  const runtimeById = new Map((runtime?.instances ?? []).map((instance) => [instance.id, instance]));
  for (const instance of registered.values())
    rows.push({ registered: instance, runtime: runtimeById.get(instance.id) });
  for (const instance of runtimeById.values())
    if (!registered.has(instance.id)) rows.push({ registered: undefined, runtime: instance });
  const filter = state.filter;
  const matching =
    filter === ''
      ? rows
      : rows.filter((row) => {
          const r = row.registered ?? row.runtime;
          return `${r.id} ${r.url} ${r.version} ${r.status}`.toLowerCase().includes(filter);
        });
  matching.sort((a, b) => ((a.registered ?? a.runtime).id < (b.registered ?? b.runtime).id ? -1 : 1));
  const shown = matching.slice(0, maxInstanceRows);
  setText(
    $('instance-count'),
    shown.length < matching.length
      ? `showing ${shown.length} of ${matching.length} (filter to narrow)`
      : `${matching.length} instance${matching.length === 1 ? '' : 's'}`,
  );
  const now = Date.now();
  tables.instances.update(
    shown,
    (row) => (row.registered ?? row.runtime).id,
    (row) => {
      const r = row.registered;
      const g = row.runtime;
      const status = r?.status ?? g?.status ?? '';
      return [
        (r ?? g).id,
        r?.url ?? g?.url ?? '',
        r?.version ?? g?.version ?? '–',
        g?.source ?? 'registry',
        [status, status === 'passing' ? 'ok' : status === 'critical' ? 'bad' : 'warn'],
        g === undefined
          ? ['not in gateway', 'warn']
          : g.available
            ? ['available', 'ok']
            : [g.healthy ? 'not taking traffic' : 'unhealthy', 'bad'],
        breakerCell(g?.breaker),
        g === undefined ? '–' : String(g.inflight),
        r === undefined ? 'static' : formatLease(r.expiresAt, now),
      ];
    },
  );
}

function renderVersions(name, registered) {
  const withContract = new Set();
  for (const instance of registered.values())
    if (instance.contractHash !== undefined) withContract.add(instance.version);
  const key = `${name}|${[...withContract].sort().join(',')}`;
  const box = $('detail-versions');
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const buttons = [...withContract].sort().map((version) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `${version} contract`;
    button.addEventListener('click', () => void showContract(name, version));
    return button;
  });
  if (buttons.length === 0) {
    const note = document.createElement('span');
    note.textContent = 'No registered version carries a contract.';
    buttons.push(note);
  }
  box.replaceChildren(...buttons);
}

function renderRoutes() {
  tables.routes.update(
    state.runtime.routes,
    (route) => route.name,
    (route) => [
      route.aggregate ? `${route.name} (aggregate)` : route.name,
      route.methods === null ? 'any' : route.methods.join(' '),
      route.path,
      route.host ?? '–',
      route.service,
      route.policies.join(' · ') || '–',
    ],
  );
}

function renderNodes() {
  if (state.nodes === undefined) return;
  setText(
    $('config-latest'),
    state.configLatest === null ? '' : `latest configuration revision ${state.configLatest}`,
  );
  tables.nodes.update(
    state.nodes,
    (node) => node.id,
    (node) => {
      const runs = node.config.source === 'file' ? 'own file' : `revision ${node.config.revision ?? '–'}`;
      const failed = node.config.failed;
      return [
        node.id,
        [node.state, node.state === 'up' ? '' : 'bad'],
        node.admin,
        node.version,
        failed === undefined
          ? runs
          : [`${runs}, refused ${failed.revision}: ${failed.errors[0] ?? ''}`, 'bad'],
        `${Math.round(node.lastSeenMs / 1000)} s ago`,
      ];
    },
  );
}

function renderTraffic() {
  const stats = state.stats;
  if (stats === undefined) return;
  setText($('traffic-window'), `over the last ${stats.windowSeconds.toFixed(1)} s`);
  tables.routeTraffic.update(
    stats.routes,
    (row) => row.name,
    (row) => [
      row.name,
      row.service ?? '–',
      formatRate(row.requestsPerSecond),
      [formatPercent(row.errorRate), errorClass(row.errorRate)],
      formatMs(row.p99Ms),
      String(row.total),
    ],
  );
  tables.serviceTraffic.update(
    stats.services,
    (row) => row.name,
    (row) => [
      row.name,
      formatRate(row.requestsPerSecond),
      [formatPercent(row.errorRate), errorClass(row.errorRate)],
      formatMs(row.p99Ms),
      String(row.total),
    ],
  );
}

function renderEvents() {
  tables.events.update(
    state.events,
    (event) => `${event.revision}:${event.kind}:${event.service}:${event.id}`,
    (event) => [
      event.at.toLocaleTimeString(),
      String(event.revision),
      [event.kind, event.kind === 'expire' || event.kind === 'deregister' ? 'warn' : ''],
      event.service,
      event.id,
      event.version ?? '',
      event.status ?? '',
    ],
  );
}

// --- start -------------------------------------------------------------------------------------------------

async function boot() {
  try {
    await refreshRuntime();
    start();
  } catch (err) {
    if (!(err instanceof Unauthorized)) showLogin(`The gateway did not answer (${err.message}).`);
    else showLogin(state.token === '' ? '' : 'The saved token was refused.');
  }
}

void boot();
