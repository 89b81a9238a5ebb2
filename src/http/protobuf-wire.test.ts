import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grpcHealthRequest, isServingAnswer } from './grpc-health.ts';
import {
  bytesField,
  grpcFrame,
  readBytesField,
  readVarintField,
  varint,
  varintField,
} from './protobuf-wire.ts';

test('varints use 7 bits a byte, least significant group first', () => {
  assert.deepEqual([...varint(0)], [0]);
  assert.deepEqual([...varint(1)], [1]);
  assert.deepEqual([...varint(300)], [0xac, 0x02]);
  assert.deepEqual([...varint(2 ** 35)], [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
});

test('fields at their default value are left out, as proto3 writes them', () => {
  assert.equal(varintField(1, 0).length, 0);
  assert.equal(bytesField(2, '').length, 0);
  assert.deepEqual([...varintField(1, 8)], [0x08, 0x08]);
  assert.deepEqual([...bytesField(2, 'ab')], [0x12, 2, 0x61, 0x62]);
});

test('reads a field among others of every wire type, and refuses a truncated message', () => {
  const message = Buffer.concat([
    bytesField(1, 'skip me'),
    Buffer.from([0x11, 1, 2, 3, 4, 5, 6, 7, 8]), // field 2, 64-bit
    Buffer.from([0x1d, 1, 2, 3, 4]), // field 3, 32-bit
    varintField(4, 300),
    bytesField(5, 'name'),
  ]);
  assert.equal(readVarintField(message, 4), 300);
  assert.equal(readVarintField(message, 9), 0);
  assert.equal(readBytesField(message, 5)?.toString(), 'name');
  assert.equal(readBytesField(message, 9)?.length, 0);
  assert.equal(readVarintField(message.subarray(0, message.length - 2), 4), undefined);
});

test('a health request names the service asked about, and only a SERVING answer counts', () => {
  assert.deepEqual([...grpcHealthRequest()], [0, 0, 0, 0, 0]);
  assert.deepEqual([...grpcHealthRequest('a.B')], [0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x2e, 0x42]);
  assert.equal(isServingAnswer(grpcFrame(varintField(1, 1))), true);
  assert.equal(isServingAnswer(grpcFrame(varintField(1, 2))), false);
  assert.equal(isServingAnswer(grpcFrame(Buffer.alloc(0))), false);
  assert.equal(isServingAnswer(Buffer.from([0, 0, 0, 0, 9, 0x08])), false);
});
