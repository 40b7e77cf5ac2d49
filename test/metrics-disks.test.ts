// Per-disk series made by the real tools: a shard corrupted with dfs-inject
// and repaired by dfs-scrub --repair shows as a checksum error of its disk
// and a quarantine entry there; dfs-pool clear-errors takes the count back to
// 0; a drive put in with dfs-pool replace-disk is rebuilding, with a resilver
// progress series, until a repair pass has rebuilt it. Scraping all this
// writes nothing into the pool.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { makePool, promtoolComplaints, sample, serve, typeOf, writeState } from './metrics-fixtures';
import { readSnapshots } from '../src/metrics/snapshot';
import { renderMetrics } from '../src/metrics/registry';
import { healthDocument } from '../src/metrics/health';
import { openPool, Pool } from '../src/core/pool';

const render = async (pools: string[]) => (await renderMetrics(readSnapshots(pools))).text;

const run = (name: string, args: string[], ok: number[] = [0]) => {
  const r = cli(name, args);
  assert.ok(ok.includes(r.status ?? -1), `${name} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r;
};

/** A pool of `disks` disks holding one object of two extents, mirrored. */
function poolWithObject(disks = 3): Pool {
  const dir = scratchDir('dfs-metrics-disks-');
  const pool = makePool(dir, 'pool', disks, 'mirror:2');
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.alloc(300_000, 7));
  run('dfs-pool', ['put', '--pool', pool.root, file, 'obj']);
  return pool;
}

/** Flips a bit of shard 0 of the object's first extent; the disk it is on. */
function corruptShard(pool: Pool): { id: string; index: number } {
  const r = run('dfs-inject', ['corrupt', '--pool', pool.root, '--object', 'obj', '--shard', '0', '--json']);
  return JSON.parse(r.stdout).changes[0].disk;
}

test('a corrupted shard repaired by dfs-scrub: a checksum error and a quarantine entry on its disk, 0 elsewhere', async () => {
  const pool = poolWithObject(3);
  const bad = corruptShard(pool);
  run('dfs-scrub', ['--pool', pool.root, '--repair'], [1]);

  const s = await serve(['--pool', pool.root]);
  try {
    const before = fingerprintTree(pool.root);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const p = pool.root;
    assert.is(typeOf(text, 'dynamicfs_disk_errors_total'), 'counter');
    assert.is(typeOf(text, 'dynamicfs_disk_info'), 'gauge');
    assert.is(typeOf(text, 'dynamicfs_disk_quarantine_bytes'), 'gauge');
    assert.is(typeOf(text, 'dynamicfs_disk_quarantine_entries'), 'gauge');
    assert.match(text, `dynamicfs_disk_errors_total{pool="${p}",disk="${bad.id}",kind="checksum"} 1\n`);
    for (const d of pool.disks) {
      const disk = { pool: p, disk: d.id };
      for (const kind of ['read', 'checksum', 'write']) {
        const want = d.id === bad.id && kind === 'checksum' ? 1 : 0;
        assert.is(sample(text, 'dynamicfs_disk_errors_total', { ...disk, kind }), want, `disk ${d.index} ${kind}`);
      }
      assert.is(sample(text, 'dynamicfs_disk_info', { ...disk, index: String(d.index), path: d.path, state: 'online' }), 1, `info of disk ${d.index}`);
      const bytes = sample(text, 'dynamicfs_disk_quarantine_bytes', disk)!;
      const entries = sample(text, 'dynamicfs_disk_quarantine_entries', disk);
      if (d.id === bad.id) {
        assert.ok(bytes > 0, `the damaged shard is kept on disk ${d.index}: ${bytes} bytes`);
        assert.is(entries, 1);
      } else {
        assert.is(bytes, 0, `disk ${d.index}`);
        assert.is(entries, 0, `disk ${d.index}`);
      }
    }
    assert.not.match(text, 'dynamicfs_disk_resilver_', 'no disk is rebuilding');
    assert.equal(promtoolComplaints(text) ?? [], []);
    assert.equal(diffFingerprints(before, fingerprintTree(pool.root)), [], 'a scrape writes nothing into the pool');

    // clear-errors: the count drops to 0 (a counter reset), read afresh by the running exporter.
    run('dfs-pool', ['clear-errors', '--pool', pool.root, String(bad.index)]);
    const after = await (await fetch(`${s.url}/metrics`)).text();
    assert.is(sample(after, 'dynamicfs_disk_errors_total', { pool: p, disk: bad.id, kind: 'checksum' }), 0);
    assert.ok(sample(after, 'dynamicfs_disk_quarantine_bytes', { pool: p, disk: bad.id })! > 0, 'the quarantine is kept');
  } finally {
    await s.stop();
  }
});

test('a disk out of reach: its errors and info stay, its quarantine is left out rather than 0', async () => {
  const pool = poolWithObject(4);
  const bad = corruptShard(pool);
  run('dfs-scrub', ['--pool', pool.root, '--repair'], [1]);
  const d = pool.disks[bad.index];
  fs.renameSync(d.path, `${d.path}.away`);
  const text = await render([pool.root]);
  const disk = { pool: pool.root, disk: bad.id };
  assert.is(sample(text, 'dynamicfs_disk_info', { ...disk, state: 'missing' }), 1);
  assert.is(sample(text, 'dynamicfs_disk_errors_total', { ...disk, kind: 'checksum' }), 1);
  assert.is(sample(text, 'dynamicfs_disk_quarantine_bytes', disk), undefined);
  assert.is(sample(text, 'dynamicfs_disk_quarantine_entries', disk), undefined);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'missing' }), 1);
});

test('a replaced drive is rebuilding, resilver progress 0 until a repair pass; then online, the resilver series gone', async () => {
  const pool = poolWithObject(3);
  const dir = path.dirname(pool.root);
  const old = pool.disks[2];
  fs.renameSync(old.path, path.join(dir, 'dead-drive'));
  const fresh = path.join(dir, 'new-drive');
  fs.mkdirSync(fresh);
  run('dfs-pool', ['replace-disk', '--pool', pool.root, '2', fresh, '--force']);
  const replaced = openPool(pool.root, { record: false });
  const id = replaced.disks[2].id;
  assert.is.not(id, old.id, 'the new drive has an id of its own');

  // The textfile carries the same series as /metrics.
  const out = path.join(dir, 'textfiles');
  fs.mkdirSync(out);
  run('dfs-metrics', ['--pool', pool.root, '--textfile-dir', out, '--once']);
  for (const text of [await render([pool.root]), fs.readFileSync(path.join(out, 'dynamicfs.prom'), 'utf8')]) {
    const p = pool.root;
    assert.is(sample(text, 'dynamicfs_disks', { pool: p, state: 'rebuilding' }), 1);
    assert.is(sample(text, 'dynamicfs_disks', { pool: p, state: 'online' }), 2);
    assert.is(sample(text, 'dynamicfs_disk_info', { pool: p, disk: id, index: '2', path: fresh, state: 'rebuilding' }), 1);
    assert.is(sample(text, 'dynamicfs_disk_resilver_progress_ratio', { pool: p, disk: id }), 0, 'waiting for a repair pass');
    assert.is(sample(text, 'dynamicfs_disk_resilver_eta_seconds', { pool: p, disk: id }), undefined, 'no ETA before a pass');
    assert.is(sample(text, 'dynamicfs_disk_resilver_progress_ratio', { pool: p, disk: pool.disks[0].id }), undefined, 'only rebuilding disks');
    assert.is(sample(text, 'dynamicfs_disk_info', { pool: p, disk: old.id }), undefined, 'the dead drive is no longer a disk of the pool');
    assert.equal(promtoolComplaints(text) ?? [], []);
  }
  const doc = healthDocument(readSnapshots([pool.root]));
  assert.is(doc.pools[0].state, 'degraded');
  assert.is(doc.pools[0].reason, '1 disks rebuilding');

  run('dfs-scrub', ['--pool', pool.root, '--repair'], [0, 1]);
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'rebuilding' }), 0);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'online' }), 3);
  assert.is(sample(text, 'dynamicfs_disk_info', { pool: pool.root, disk: id, state: 'online' }), 1);
  assert.not.match(text, 'dynamicfs_disk_resilver_');
  assert.is(healthDocument(readSnapshots([pool.root])).pools[0].state, 'healthy');
});

test('a repair pass under way: the rebuilding disk\'s progress ratio and ETA', async () => {
  const pool = poolWithObject(3);
  const dir = path.dirname(pool.root);
  fs.renameSync(pool.disks[1].path, path.join(dir, 'dead-drive'));
  const fresh = path.join(dir, 'new-drive');
  fs.mkdirSync(fresh);
  run('dfs-pool', ['replace-disk', '--pool', pool.root, '1', fresh, '--force']);
  const replaced = openPool(pool.root, { record: false });
  writeState(replaced, (s) => {
    s.current = {
      id: 'p1', mode: 'repair', runner: 'dfs-scrubd', startedAt: new Date(Date.now() + 1000).toISOString(), cursor: '7f',
      extentsTotal: 10, extentsDone: 4, bytesTotal: 1000, bytesDone: 400,
      issuesFound: 0, repairsAttempted: 0, repairsSuccessful: 0, health: { healthy: 4, degraded: 0, unrecoverable: 0 }, activeSeconds: 8,
    };
  });
  const text = await render([pool.root]);
  const disk = { pool: pool.root, disk: replaced.disks[1].id };
  assert.is(sample(text, 'dynamicfs_disk_resilver_progress_ratio', disk), 0.4);
  assert.is(sample(text, 'dynamicfs_disk_resilver_eta_seconds', disk), 12);
});

test.run();
