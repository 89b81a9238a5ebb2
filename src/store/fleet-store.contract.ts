import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually } from '../../test/helpers/eventually.ts';
import type { FleetStore, NodeRecord } from './fleet-store.ts';

/** Two fleet stores on one set of data (two nodes), and how to remove the data afterwards. */
export interface FleetFixture {
  readonly a: FleetStore;
  readonly b: FleetStore;
  cleanup(): Promise<void>;
}

function node(id: string, revision: number | null): NodeRecord {
  return {
    id,
    admin: 'http://127.0.0.1:8081',
    listen: [],
    version: '0.1.0',
    pid: 1,
    startedAt: 1,
    heartbeatMs: 1000,
    config: { source: 'store', revision },
  };
}

/**
 * The behaviour every {@link FleetStore} shares, run by each implementation's test file.
 *
 * @example
 * fleetStoreContract('embedded', async () => ({ a, b, cleanup }));
 */
export function fleetStoreContract(name: string, open: () => Promise<FleetFixture>): void {
  describe(`${name} fleet store contract`, () => {
    async function pair(t: { after(fn: () => Promise<void>): void }): Promise<FleetFixture> {
      const fixture = await open();
      t.after(() => fixture.cleanup());
      return fixture;
    }

    test('revisions number from 1 up; an unchanged document stores nothing', async (t) => {
      const { a, b } = await pair(t);
      assert.equal(await a.revision(), undefined);
      const first = await a.addRevision('listen: 127.0.0.1:8080\n', 'admin.token', 'apply');
      assert.equal(first.created, true);
      assert.equal(first.revision.revision, 1);
      const again = await b.addRevision('listen: 127.0.0.1:8080\n', 'ci', 'apply');
      assert.deepEqual(again, { revision: first.revision, created: false });
      const second = await b.addRevision('listen: 127.0.0.1:9090\n', 'ci', 'apply');
      assert.equal(second.revision.revision, 2);
      assert.equal((await a.revision())?.document, 'listen: 127.0.0.1:9090\n');
      assert.equal((await a.revision(1))?.author, 'admin.token');
      assert.equal(await a.revision(3), undefined);
      const history = await a.history();
      assert.deepEqual(
        history.map((r) => [r.revision, r.author, r.note]),
        [
          [2, 'ci', 'apply'],
          [1, 'admin.token', 'apply'],
        ],
      );
      assert.equal(history[0]?.sha256, second.revision.sha256);
      assert.equal('document' in (history[0] ?? {}), false);
    });

    test('a revision stored through one node is announced to the other', async (t) => {
      const { a, b } = await pair(t);
      const heard: number[] = [];
      b.onRevision((revision) => heard.push(revision));
      await a.addRevision('listen: 127.0.0.1:8080\n', 'cli', 'apply');
      await eventually(() => assert.ok(heard.includes(1)));
    });

    test('nodes heartbeat with the store clock and can be forgotten', async (t) => {
      const { a, b } = await pair(t);
      await a.heartbeat(node('node-a', 1));
      await b.heartbeat(node('node-b', null));
      const { now, nodes } = await a.nodes();
      assert.deepEqual(nodes.map((n) => n.id).sort(), ['node-a', 'node-b']);
      for (const entry of nodes) assert.ok(Math.abs(now - entry.lastSeen) < 5000);
      assert.deepEqual(nodes.find((n) => n.id === 'node-b')?.listen, []);
      assert.equal(nodes.find((n) => n.id === 'node-a')?.config.revision, 1);
      await b.forgetNode('node-a');
      assert.deepEqual(
        (await a.nodes()).nodes.map((n) => n.id),
        ['node-b'],
      );
    });
  });
}
