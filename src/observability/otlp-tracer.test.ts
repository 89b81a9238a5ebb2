import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createOtlpTracer } from './otlp-tracer.ts';

test('tracing.otlp without the optional OpenTelemetry packages fails start-up naming what to install', async () => {
  const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
  const config = {
    otlp: {
      endpoint: 'http://127.0.0.1:4318/v1/traces',
      headers: {},
      serviceName: 'portico',
      sampleRatio: 1,
    },
  };
  await assert.rejects(
    createOtlpTracer(config, pino({ level: 'silent' }), () => Promise.reject(missing)),
    /tracing\.otlp needs the OpenTelemetry packages, optional peers of portico: npm install @opentelemetry\/api @opentelemetry\/sdk-trace/,
  );
  assert.equal(await createOtlpTracer(undefined, pino({ level: 'silent' })), undefined);
});
