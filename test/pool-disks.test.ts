// Disks as drives, on directories (test/real-drives.test.ts does the same on
// loop-mounted filesystems): disks found by label after their paths swap, a
// cloned label refused, replace-disk / add-disk / remove-disk, the resilver's
// order and completion, per-disk error counts and clear-errors, and the
// quarantine verbs. Every refusal changes nothing (tree fingerprints).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { ResilverOrder, spareShards } from '../src/scrub/resilver';
import type { ExtentPlan } from '../src/scrub/inventory';

interface Env {
  dir: string;
  pool: string;
  disks: string[];
  objects: Map<string, Buffer>;
}

function run(tool: string, args: string[], code: number | number[] = 0) {
  const r = cli(tool, args);
  const ok = Array.isArray(code) ? code.includes(r.status ?? -1) : r.status === code;
  assert.ok(ok, `${tool} ${args.join(' ')}: exit ${r.status}, expected ${code}\n${r.stderr}${r.stdout.slice(0, 2000)}`);
  return r;
}

const json = (tool: string, args: string[], code: number | number[] = 0) => JSON.parse(run(tool, [...args, '--json'], code).stdout);

/** A pool of `n` disks, each a directory outside the pool (as drives are), holding an rs:4+2 and a mirror:2 object. */
function setup(n = 6, extraDirs = 0): Env {
  const dir = scratchDir('dfs-pool-disks-');
  const disks = Array.from({ length: n + extraDirs }, (_, i) => path.join(dir, 'mnt', `disk${i}`));
  for (const d of disks) fs.mkdirSync(d, { recursive: true });
  const pool = path.join(dir, 'pool');
  run('dfs-pool', ['create', '--pool', pool, '--redundancy', 'rs:4+2', '--extent-size', '64K', ...disks.slice(0, n).flatMap((d) => ['--disk', d])]);
  const objects = new Map<string, Buffer>();
  for (const [name, size, scheme] of [['alpha', 700_000, 'rs:4+2'], ['beta', 300_000, 'mirror:2']] as const) {
    const data = randomBytes(size);
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    run('dfs-pool', ['put', '--pool', pool, file, name, '--redundancy', scheme]);
    objects.set(name, data);
  }
  return { dir, pool, disks, objects };
}

function assertObjectsIntact(env: Env, what: string): void {
  for (const [name, data] of env.objects) {
    const out = path.join(env.dir, `${name}.out`);
    fs.rmSync(out, { force: true });
    run('dfs-pool', ['get', '--pool', env.pool, name, out]);
    assert.is(createHash('sha256').update(fs.readFileSync(out)).digest('hex'), createHash('sha256').update(data).digest('hex'), `${what}: ${name} reads back bit-identical`);
  }
}

const poolJson = (env: Env) => JSON.parse(fs.readFileSync(path.join(env.pool, 'pool.json'), 'utf8')) as { disks: { id: string; path: string; rebuilding?: unknown }[] };
const status = (env: Env) => json('dfs-pool', ['status', '--pool', env.pool]) as { disks: { index: number; id: string; path: string; state: string; detail?: string; errors: Record<string, number>; quarantine: { entries: number; bytes: number }; resilver?: { pass?: unknown } }[] };
const shardFiles = (disk: string) =>
  fs.existsSync(path.join(disk, 'extents'))
    ? fs.readdirSync(path.join(disk, 'extents')).flatMap((p) => fs.readdirSync(path.join(disk, 'extents', p)).map((f) => path.join(disk, 'extents', p, f)))
    : [];

/** The command is refused with `code`, one stderr line naming `culprit`, and nothing under the scratch directory changes. */
function refused(env: Env, tool: string, args: string[], code: number, culprit: string): void {
  const before = fingerprintTree(env.dir);
  const r = cli(tool, args);
  assert.is(r.status, code, `${args.join(' ')}: exit ${r.status}, expected ${code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `${args.join(' ')}: one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0].includes(culprit), `${args.join(' ')}: the error names ${culprit}: ${lines[0]}`);
  assert.equal(diffFingerprints(before, fingerprintTree(env.dir)), [], `${args.join(' ')} changed files`);
}

test('two disks whose mount points swapped are found by their labels, used, and recorded anew', () => {
  const env = setup();
  const ids = poolJson(env).disks.map((d) => d.id);
  const tmp = path.join(env.dir, 'mnt', 'swap');
  fs.renameSync(env.disks[1], tmp);
  fs.renameSync(env.disks[2], env.disks[1]);
  fs.renameSync(tmp, env.disks[2]);
  const r = run('dfs-scrub', ['--pool', env.pool]);
  assert.match(r.stderr, new RegExp(`notice: disk 1 \\(${ids[1]}\\) found at ${env.disks[2]}`), 'a notice names the disk found elsewhere');
  const after = poolJson(env);
  assert.equal(after.disks.map((d) => d.id), ids, 'disk ids and order stay');
  assert.is(after.disks[1].path, env.disks[2]);
  assert.is(after.disks[2].path, env.disks[1]);
  assert.ok(status(env).disks.every((d) => d.state === 'online'));
  // The next run has nothing to say.
  assert.not.match(run('dfs-scrub', ['--pool', env.pool]).stderr, /notice/);
  assertObjectsIntact(env, 'after the swap');
});

test('a cloned drive: two paths claiming one disk id are both refused, and nothing is written to either', () => {
  const env = setup();
  // Disk 3's drive dies; a copy of disk 0's drive is mounted in its place.
  fs.rmSync(env.disks[3], { recursive: true });
  fs.cpSync(env.disks[0], env.disks[3], { recursive: true });
  const st = status(env);
  for (const i of [0, 3]) {
    assert.is.not(st.disks[i].state, 'online', `disk ${i} is refused`);
  }
  const id0 = poolJson(env).disks[0].id;
  assert.ok(st.disks[0].detail?.includes(id0) && st.disks[0].detail.includes(env.disks[0]) && st.disks[0].detail.includes(env.disks[3]), `the detail names the id and both paths: ${st.disks[0].detail}`);
  const before0 = fingerprintTree(env.disks[0]);
  const before3 = fingerprintTree(env.disks[3]);
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 4);
  assert.equal(diffFingerprints(before0, fingerprintTree(env.disks[0])), [], 'nothing written to the original');
  assert.equal(diffFingerprints(before3, fingerprintTree(env.disks[3])), [], 'nothing written to the clone');
});

test("another pool's label at a disk's path is foreign; the pool's own state stays readable", () => {
  const env = setup();
  fs.writeFileSync(path.join(env.disks[4], 'dynamicfs-disk.json'), JSON.stringify({ format: 1, pool: 'another-pool', disk: 'x' }));
  const st = status(env);
  assert.is(st.disks[4].state, 'foreign');
  assert.match(st.disks[4].detail!, /another-pool/);
});

test('replace-disk refuses what is not a blank drive, naming it, and changes nothing', () => {
  const env = setup(6, 2);
  fs.renameSync(env.disks[3], `${env.disks[3]}.dead`);
  const full = env.disks[6];
  fs.writeFileSync(path.join(full, 'somebody-elses-file'), 'x');
  refused(env, 'dfs-pool', ['replace-disk', '--pool', env.pool, '3', full], 8, full);
  // On the pool directory's filesystem (all of these are): refused without --force.
  refused(env, 'dfs-pool', ['replace-disk', '--pool', env.pool, '3', env.disks[7]], 8, 'same filesystem');
  // A labelled directory is never taken, even with --force.
  refused(env, 'dfs-pool', ['replace-disk', '--pool', env.pool, '3', env.disks[0], '--force'], 8, env.disks[0]);
  refused(env, 'dfs-pool', ['replace-disk', '--pool', env.pool, '9', env.disks[7], '--force'], 16, '9');
  // An online disk is not replaced without --force: its shards would be dropped.
  refused(env, 'dfs-pool', ['replace-disk', '--pool', env.pool, '2', env.disks[7]], 8, 'online');
});

test('replace a dead disk: rebuilding, the resilver rebuilds every shard and manifest copy there, then online; rm works again', () => {
  const env = setup(6, 1);
  const dead = env.disks[3];
  const lost = shardFiles(dead).length;
  assert.ok(lost > 0);
  fs.renameSync(dead, `${dead}.dead`);
  assert.is(status(env).disks[3].state, 'missing');
  // rm is refused while a manifest copy would survive on the absent disk.
  run('dfs-pool', ['rm', '--pool', env.pool, 'beta'], 8);

  const fresh = env.disks[6];
  const rep = json('dfs-pool', ['replace-disk', '--pool', env.pool, '3', fresh, '--force']);
  assert.is(rep.disk.state, 'rebuilding');
  assert.is(rep.replaced.state, 'missing');
  let st = status(env);
  assert.is(st.disks[3].state, 'rebuilding');
  assert.is(st.disks[3].path, fresh);
  assert.ok(st.disks[3].resilver, 'status shows the resilver');
  assert.is(st.disks[3].resilver!.pass, undefined, 'no repair pass has begun');
  assert.ok(fs.readdirSync(path.join(fresh, 'objects')).length >= 2, 'manifests are on the new disk at once');
  // A verify pass does not complete a resilver.
  run('dfs-scrub', ['--pool', env.pool], 4);
  assert.is(status(env).disks[3].state, 'rebuilding');

  const r = json('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  assert.equal(r.resilver.disks.map((d: { index: number; complete: boolean }) => [d.index, d.complete]), [[3, true]]);
  assert.is(r.repairs.successful, r.repairs.attempted);
  st = status(env);
  assert.is(st.disks[3].state, 'online');
  assert.is(poolJson(env).disks[3].rebuilding, undefined);
  assert.ok(shardFiles(fresh).length >= lost, `the new disk holds what the dead one held (${shardFiles(fresh).length} of ${lost})`);
  run('dfs-scrub', ['--pool', env.pool], 0);
  assertObjectsIntact(env, 'after the resilver');
  // The old drive, should it come back at its old path, is no longer this pool's.
  fs.renameSync(`${dead}.dead`, dead);
  run('dfs-pool', ['rm', '--pool', env.pool, 'beta']);
  env.objects.delete('beta');
  assertObjectsIntact(env, 'after rm');
});

test("the replacement may be mounted at the dead disk's own mount point", () => {
  const env = setup();
  fs.renameSync(env.disks[2], `${env.disks[2]}.dead`);
  fs.mkdirSync(env.disks[2]);
  run('dfs-pool', ['replace-disk', '--pool', env.pool, env.disks[2], env.disks[2], '--force']);
  assert.is(status(env).disks[2].state, 'rebuilding');
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  assert.is(status(env).disks[2].state, 'online');
  assert.is(poolJson(env).disks[2].path, env.disks[2]);
  assertObjectsIntact(env, 'after a replacement in place');
});

test('the resilver takes the extents with the fewest shards present first', () => {
  const env = setup(6, 1);
  // One extent of alpha loses a second shard beside the dead disk: it has no spare shard left.
  fs.renameSync(env.disks[3], `${env.disks[3]}.dead`);
  const onDisk0 = shardFiles(env.disks[0]).filter((f) => /\.\d$/.test(f));
  const idOf = (f: string) => path.basename(f).split('.')[0];
  const rsExtents = new Set(env.disks.slice(0, 6).concat(`${env.disks[3]}.dead`).flatMap((d) => shardFiles(d)).filter((f) => /\.[2-5]$/.test(f)).map(idOf));
  const victims = onDisk0.filter((f) => rsExtents.has(idOf(f)) && shardFiles(`${env.disks[3]}.dead`).some((g) => idOf(g) === idOf(f)));
  const endangered = victims.sort().slice(-1)[0]; // the highest id: an id-order walk would reach it last
  assert.ok(endangered, 'an extent with shards on disk 0 and the dead disk');
  const endangeredId = path.basename(endangered).split('.')[0];
  fs.rmSync(endangered);
  run('dfs-pool', ['replace-disk', '--pool', env.pool, '3', env.disks[6], '--force']);
  run('dfs-scrub', ['--pool', env.pool, '--repair', '--intensity', 'low'], 1);
  const audit = fs.readFileSync(path.join(env.pool, '.dynamicfs', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const rebuilt = audit.filter((a) => a.action === 'rebuild-shard').map((a) => a.extent as string);
  // rs:4+2 extents (shards with an index past 1) that lost only the dead disk's shard keep one spare:
  // every one of them comes after the endangered extent, though an id-order walk would reach them first.
  const at = rebuilt.indexOf(endangeredId);
  assert.ok(at >= 0, 'the endangered extent is rebuilt');
  for (const id of rsExtents) {
    if (id !== endangeredId && rebuilt.includes(id)) assert.ok(rebuilt.indexOf(id) > at, `extent ${id} (one spare shard) rebuilt before the endangered one`);
  }
  assert.is(status(env).disks[3].state, 'online');
  assertObjectsIntact(env, 'after the ordered resilver');
});

test('ResilverOrder: phases by spare shards, each extent taken once, the last phase takes the rest', () => {
  const plan = (id: string, scheme: string, present: number[]): ExtentPlan => ({ id, scheme, length: 10, files: present.map((index) => ({ index, disk: index, path: '' })) });
  const a = plan('aa'.padEnd(64, '0'), 'rs:4+2', [0, 1, 2, 3]); // spare 0
  const b = plan('bb'.padEnd(64, '0'), 'rs:4+2', [0, 1, 2, 3, 4]); // spare 1
  const c = plan('cc'.padEnd(64, '0'), 'rs:4+2', [0, 1, 2, 3, 4, 5]); // spare 2
  const d = plan('dd'.padEnd(64, '0'), 'mirror:2', [0]); // spare 0
  assert.equal([a, b, c, d].map(spareShards), [0, 1, 2, 0]);
  const order = new ResilverOrder(['rs:4+2', 'mirror:2']);
  assert.is(order.phases, 3);
  const taken: string[][] = [];
  for (let p = 0; p < order.phases; p++) taken.push([a, b, c, d].filter((x) => order.take(x, p)).map((x) => x.id.slice(0, 2)));
  assert.equal(taken, [['aa', 'dd'], ['bb'], ['cc']]);
});

test('remove-disk: refused naming the schemes when they would not fit; a readable disk is emptied onto the others first', () => {
  const env = setup(7);
  const before = fingerprintTree(env.dir);
  // 7 disks: rs:4+2 fits on 6; after one removal the pool has 6.
  const leaving = env.disks[5];
  const had = shardFiles(leaving).length;
  const r = json('dfs-pool', ['remove-disk', '--pool', env.pool, leaving]);
  assert.is(r.shardsMoved, had);
  assert.is(poolJson(env).disks.length, 6);
  assert.equal(fingerprintTree(leaving), new Map([...before].filter(([k]) => k.startsWith('mnt/disk5/')).map(([k, v]) => [k.slice('mnt/disk5/'.length), v])), 'the leaving drive is not changed');
  run('dfs-scrub', ['--pool', env.pool], 0);
  assertObjectsIntact(env, 'after remove-disk');
  // Now 6 disks: rs:4+2 cannot lose one.
  refused(env, 'dfs-pool', ['remove-disk', '--pool', env.pool, '0'], 8, 'rs:4+2 needs 6 disks');
});

test('remove-disk of a dead disk drops it; the repair pass rebuilds its shards elsewhere', () => {
  const env = setup(7);
  fs.renameSync(env.disks[2], `${env.disks[2]}.dead`);
  run('dfs-pool', ['remove-disk', '--pool', env.pool, '2']);
  assert.is(poolJson(env).disks.length, 6);
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  run('dfs-scrub', ['--pool', env.pool], 0);
  assertObjectsIntact(env, 'after dropping a dead disk');
});

test('add-disk: a blank directory joins online with every manifest; new writes may land there', () => {
  const env = setup(6, 1);
  const r = json('dfs-pool', ['add-disk', '--pool', env.pool, env.disks[6], '--force']);
  assert.is(r.disk.state, 'online');
  assert.is(r.manifests, 2);
  run('dfs-scrub', ['--pool', env.pool], 0);
});

test('errors per disk: checksum and read errors counted, persisted, shown by status, probe-disks and scrub --json; clear-errors resets', () => {
  const env = setup();
  const victim = shardFiles(env.disks[1])[0];
  const data = fs.readFileSync(victim);
  data[200] ^= 0xff;
  fs.writeFileSync(victim, data);
  const r = json('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  assert.equal(r.disks[1].errors, { read: 0, checksum: 1, write: 0 });
  assert.equal(r.disks[0].errors, { read: 0, checksum: 0, write: 0 });
  assert.equal(status(env).disks[1].errors, { read: 0, checksum: 1, write: 0 });
  const probe = json('dfs-pool', ['probe-disks', '--pool', env.pool]);
  assert.equal(probe.disks[1].errors, { read: 0, checksum: 1, write: 0 });
  // A second pass over the repaired pool adds nothing.
  run('dfs-scrub', ['--pool', env.pool], 0);
  assert.is(status(env).disks[1].errors.checksum, 1);
  run('dfs-pool', ['clear-errors', '--pool', env.pool, '1']);
  assert.equal(status(env).disks[1].errors, { read: 0, checksum: 0, write: 0 });
  // Counting goes on after a clear.
  const again = shardFiles(env.disks[1])[1];
  const d2 = fs.readFileSync(again);
  d2[300] ^= 0xff;
  fs.writeFileSync(again, d2);
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  assert.is(status(env).disks[1].errors.checksum, 1);
});

test('a failed repair write counts against its disk', () => {
  const env = setup();
  const victim = shardFiles(env.disks[2])[0];
  const data = fs.readFileSync(victim);
  data[150] ^= 0x0f;
  fs.writeFileSync(victim, data);
  // An immutable fan-out directory refuses the rebuilt file, even to root.
  const dir = path.dirname(victim);
  const chattr = spawnSync('chattr', ['+i', dir]);
  assert.is(chattr.status, 0, `chattr +i ${dir}: ${chattr.stderr}`);
  try {
    const r = json('dfs-scrub', ['--pool', env.pool, '--repair'], 4);
    assert.equal(r.disks[2].errors, { read: 0, checksum: 1, write: 1 });
    assert.is(r.issues[0].result, 'failed');
  } finally {
    spawnSync('chattr', ['-i', dir]);
  }
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  assert.equal(status(env).disks[2].errors, { read: 0, checksum: 2, write: 1 });
  assertObjectsIntact(env, 'after the failed write');
});

test('quarantine: kept on the damaged file\'s own disk (same inode), listed, restored, purged only with --older-than', () => {
  const env = setup();
  const victim = shardFiles(env.disks[4])[0];
  const bad = fs.readFileSync(victim);
  bad[500] ^= 0x55;
  fs.writeFileSync(victim, bad);
  const ino = fs.statSync(victim).ino;
  const r = json('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  const kept = r.issues[0].quarantine as string;
  assert.is(path.dirname(kept), path.join(env.disks[4], '.dynamicfs', 'quarantine'));
  assert.is(fs.statSync(kept).ino, ino, 'the damaged file itself, not a copy');
  assert.ok(fs.readFileSync(kept).equals(bad));
  assert.not.ok(fs.existsSync(path.join(env.pool, '.dynamicfs', 'quarantine')), 'nothing in the pool directory');
  assert.equal(status(env).disks[4].quarantine, { entries: 1, bytes: bad.length });

  const list = json('dfs-pool', ['quarantine', 'list', '--pool', env.pool]).entries;
  assert.is(list.length, 1);
  assert.is(list[0].original, victim);
  assert.is(list[0].disk.index, 4);

  refused(env, 'dfs-pool', ['quarantine', 'purge', '--pool', env.pool], 16, '--older-than');
  refused(env, 'dfs-pool', ['quarantine', 'restore', '--pool', env.pool, list[0].name], 8, victim);
  refused(env, 'dfs-pool', ['quarantine', 'restore', '--pool', env.pool, 'no-such-entry'], 16, 'no-such-entry');
  // Restore with --force: the good file there is itself kept, the damaged one goes back.
  const res = json('dfs-pool', ['quarantine', 'restore', '--pool', env.pool, list[0].name, '--force']);
  assert.is(res.restoredTo, victim);
  assert.ok(fs.readFileSync(victim).equals(bad));
  run('dfs-scrub', ['--pool', env.pool], 4);
  run('dfs-scrub', ['--pool', env.pool, '--repair'], 1);
  const n = json('dfs-pool', ['quarantine', 'list', '--pool', env.pool]).entries.length;
  assert.is(n, 2, 'the displaced good copy and the damaged one again');
  assert.is(json('dfs-pool', ['quarantine', 'purge', '--pool', env.pool, '--older-than', '1h']).purged.length, 0, 'nothing is that old');
  assert.is(json('dfs-pool', ['quarantine', 'purge', '--pool', env.pool, '--older-than', '0', '--dry-run']).purged.length, n);
  assert.is(json('dfs-pool', ['quarantine', 'list', '--pool', env.pool]).entries.length, n, 'a dry run deletes nothing');
  assert.is(json('dfs-pool', ['quarantine', 'purge', '--pool', env.pool, '--older-than', '0']).purged.length, n);
  assert.is(json('dfs-pool', ['quarantine', 'list', '--pool', env.pool]).entries.length, 0);
  assertObjectsIntact(env, 'after the quarantine drill');
});

test('entries an earlier version kept in POOL/.dynamicfs/quarantine are still listed', () => {
  const env = setup();
  const q = path.join(env.pool, '.dynamicfs', 'quarantine');
  fs.mkdirSync(q, { recursive: true });
  fs.writeFileSync(path.join(q, 'old-entry.0'), 'old bytes');
  fs.writeFileSync(path.join(q, 'old-entry.0.json'), JSON.stringify({ original: '/somewhere/old-entry.0', problem: 'checksum-mismatch', quarantinedAt: '2026-01-01T00:00:00.000Z', content: 'old-entry.0' }));
  const list = json('dfs-pool', ['quarantine', 'list', '--pool', env.pool]).entries;
  assert.is(list.length, 1);
  assert.is(list[0].disk, null);
  assert.is(list[0].bytes, 9);
});

test.run();
