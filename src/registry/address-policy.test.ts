import assert from 'node:assert/strict';
import type { LookupAddress, lookup as dnsLookup } from 'node:dns';
import { test } from 'node:test';
import { createAddressPolicy, createGuardedLookup, parseIpv4Loose } from './address-policy.ts';

test('reads every inet_aton spelling of an IPv4 address', () => {
  assert.equal(parseIpv4Loose('2852039166'), '169.254.169.254');
  assert.equal(parseIpv4Loose('0251.0376.0251.0376'), '169.254.169.254');
  assert.equal(parseIpv4Loose('0xa9fea9fe'), '169.254.169.254');
  assert.equal(parseIpv4Loose('169.254.43518'), '169.254.169.254');
  assert.equal(parseIpv4Loose('169.16689662'), '169.254.169.254');
  assert.equal(parseIpv4Loose('4294967296'), undefined);
  assert.equal(parseIpv4Loose('1.2.3.4.5'), undefined);
  assert.equal(parseIpv4Loose('08.1.1.1'), undefined);
});

test('refuses link-local and metadata addresses in every spelling, allows ordinary and loopback ones', () => {
  const policy = createAddressPolicy();
  for (const address of [
    '169.254.169.254',
    '2852039166',
    '0xa9fea9fe',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '[::ffff:a9fe:a9fe]',
    '64:ff9b::a9fe:a9fe',
    '::a9fe:a9fe',
    'FD00:EC2::254',
    'fe80::1',
    '100.100.100.200',
    '0.0.0.0',
    '::',
    '224.0.0.251',
    'ff02::1',
  ]) {
    assert.equal(policy.checkAddress(address).allowed, false, address);
  }
  for (const address of ['10.0.0.1', '192.168.1.1', '2001:db8::1', '127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    assert.equal(policy.checkAddress(address).allowed, true, address);
  }
  assert.equal(policy.checkAddress('not-an-ip').allowed, false);
});

test('loopback can be refused; deny wins over allow; allow admits a built-in refusal it names', () => {
  const policy = createAddressPolicy({
    allowLoopback: false,
    allow: ['10.0.0.0/8', '169.254.10.0/24'],
    deny: ['10.9.0.0/16'],
  });
  assert.equal(policy.checkAddress('127.0.0.1').allowed, false);
  assert.equal(policy.checkAddress('::1').allowed, false);
  assert.equal(policy.checkAddress('10.1.2.3').allowed, true);
  assert.equal(policy.checkAddress('10.9.2.3').allowed, false);
  assert.equal(policy.checkAddress('169.254.10.5').allowed, true);
  assert.equal(policy.checkAddress('169.254.169.254').allowed, false);
  assert.equal(policy.checkAddress('8.8.8.8').allowed, false, 'outside the allow list');
  assert.throws(() => createAddressPolicy({ deny: ['10.0.0.0/33'] }), /prefix/);
});

function fakeLookup(table: Record<string, LookupAddress[]>) {
  return ((
    hostname: string,
    _options: unknown,
    callback: (err: Error | null, addresses?: LookupAddress[]) => void,
  ) => {
    const found = table[hostname];
    if (found === undefined) callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    else callback(null, found);
  }) as unknown as typeof dnsLookup;
}

test('the guarded lookup drops refused addresses and fails when none is left (DNS rebinding)', async () => {
  const lookup = createGuardedLookup(
    createAddressPolicy(),
    fakeLookup({
      mixed: [
        { address: '169.254.169.254', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
      rebound: [{ address: '::ffff:169.254.169.254', family: 6 }],
    }),
  );
  const one = await new Promise<[string, number | undefined]>((resolve, reject) =>
    lookup('mixed', {}, (err, address, family) => (err ? reject(err) : resolve([address as string, family]))),
  );
  assert.deepEqual(one, ['10.0.0.7', 4]);
  const all = await new Promise<unknown>((resolve, reject) =>
    lookup('mixed', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
  assert.deepEqual(all, [{ address: '10.0.0.7', family: 4 }]);
  const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
    lookup('rebound', {}, (err) => resolve(err)),
  );
  assert.equal(refused?.code, 'EADDRNOTALLOWED');
  const missing = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
    lookup('nope', {}, (err) => resolve(err)),
  );
  assert.equal(missing?.code, 'ENOTFOUND');
});

test('the guarded lookup works as undici connect.lookup: a refused resolution never connects', async () => {
  const { Agent, request } = await import('undici');
  const lookup = createGuardedLookup(
    createAddressPolicy(),
    fakeLookup({ 'meta.test': [{ address: '169.254.169.254', family: 4 }] }),
  );
  const agent = new Agent({ connect: { lookup, timeout: 1_000 } });
  try {
    await assert.rejects(
      request('http://meta.test:80/', { dispatcher: agent }),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'EADDRNOTALLOWED');
        return true;
      },
    );
  } finally {
    await agent.close();
  }
});
