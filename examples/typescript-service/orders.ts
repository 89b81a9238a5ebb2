// The orders service: GET /orders/{id} calls the users service through the SDK client (discovery, load
// balancing, retries, trace context). In your own project import from 'portico/sdk'.
import { createClient, createService, ServiceCallError } from '../../src/sdk/index.ts';

interface User {
  id: string;
  name: string;
}

const client = createClient();
const users = client.service('users', '^2');

const service = await createService({
  name: 'orders',
  version: '3.0.0',
  async handler(req, res) {
    const id = /^\/orders\/([^/]+)$/.exec(req.url ?? '')?.[1];
    if (id === undefined) {
      res
        .writeHead(404, { 'content-type': 'application/problem+json' })
        .end('{"title":"Not Found","status":404}');
      return;
    }
    try {
      // Runs inside the request: the call carries this request's trace id.
      const customer = await users.get<User>(`/users/${encodeURIComponent(`u${id}`)}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, total: 42, customer }));
    } catch (err) {
      const status = err instanceof ServiceCallError ? 502 : 503;
      res.writeHead(status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: 'users unavailable', status, detail: (err as Error).message }));
    }
  },
});
// createService drains on SIGTERM and exits; the client's watch streams end with the process.
console.log(`orders ${service.version} registered as ${service.id} at ${service.url}`);
