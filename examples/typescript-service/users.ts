// The users service: answers GET /users/{id}. In your own project import from 'portico/sdk'.
import { createService } from '../../src/sdk/index.ts';

const contract = {
  openapi: '3.1.0',
  info: { title: 'users', version: '2.0.0' },
  paths: {
    '/users/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'A user' } },
      },
    },
  },
};

const service = await createService({
  name: 'users',
  version: '2.0.0',
  contract,
  // The registry defaults to $PORTICO_REGISTRY_URL, else http://127.0.0.1:8081.
  handler(req, res) {
    const id = /^\/users\/([^/]+)$/.exec(req.url ?? '')?.[1];
    if (id === undefined) {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: 'Not Found', status: 404 }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, name: `user ${id}`, traceparent: req.headers.traceparent }));
  },
});
console.log(`users ${service.version} registered as ${service.id} at ${service.url}`);
