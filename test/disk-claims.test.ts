// A disk is adopted only where its label, its owner and its place agree with
// the pool that names it. A copy of a pool.json beside the original is refused
// every disk the original still names, and the original is told (status,
// scrub report, dynamicfs_disk_claims) through a note in /run/dynamicfs/claims
// that it checks against the claimant's own pool.json. A pool moved to another
// directory adopts its disks there and writes its new place into their labels.
// (A user's pool naming root's disks: test/hostile-pool.test.ts.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { CLAIMS_DIR } from '../src/core/disk-claims';
import { blake3Hex } from '../src/core/hash';

const isRoot = process.getuid?.() === 0;
const CI = ['true', '1', 'yes'].includes((process.env.CI ?? '').toLowerCase());

/** The claims directory is root's to make: without root, these tests cannot run. */
function rootReady(what: string): boolean {
  if (isRoot) return true;
  if (CI) throw new Error(`${what}: needs root (CI=true), to make ${CLAIMS_DIR}`);
  process.stderr.write(`\n*** SKIP: ${what}: needs root\n`);
  return false;
}

function run(name: string, args: string[], codes: number[]) {
  const r = cli(name, args);
  assert.ok(codes.includes(r.status ?? -1), `${name} ${args.join(' ')}: exit ${r.status}, expected ${codes.join(' or ')}\n${r.stderr}${r.stdout.slice(0, 1500)}`);
  return r;
}

interface StatusDisk {
  index: number;
  path: string;
  state: string;
  detail?: string;
  claimedBy?: string[];
}

const statusDisks = (pool: string): StatusDisk[] => JSON.parse(run('dfs-pool', ['status', '--pool', pool, '--json'], [0]).stdout).disks;

const label = (disk: string) => JSON.parse(fs.readFileSync(path.join(disk, 'dynamicfs-disk.json'), 'utf8'));

/** A pool A with three disks outside its directory (as mount points are) and one object. */
function poolWithOutsideDisks(dir: string): { root: string; disks: string[] } {
  const root = path.join(dir, 'A');
  const disks = [0, 1, 2].map((i) => path.join(dir, 'mnt', `a${i}`));
  for (const d of disks) fs.mkdirSync(d, { recursive: true });
  run('dfs-pool', ['create', '--pool', root, ...disks.flatMap((d) => ['--disk', d]), '--redundancy', 'mirror:2', '--extent-size', '64K'], [0]);
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, Buffer.alloc(200_000, 7));
  run('dfs-pool', ['put', '--pool', root, src, 'alpha'], [0]);
  return { root, disks };
}

test("a copied pool.json is refused the original's disks, and the original is told until the copy is gone", () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-copy-');
  const a = poolWithOutsideDisks(dir);
  const aReal = fs.realpathSync(a.root);
  for (const d of a.disks) assert.is(label(d).place, aReal, `${d}: the label names the pool directory that made it`);
  // The copy: the same id, the same disks, its own directory.
  const B = path.join(dir, 'B');
  fs.mkdirSync(B);
  fs.copyFileSync(path.join(a.root, 'pool.json'), path.join(B, 'pool.json'));
  const bReal = fs.realpathSync(B);
  const before = fingerprintTree(path.join(dir, 'mnt'), { mtime: true });

  const scrub = run('dfs-scrub', ['--pool', B, '--repair', '--json'], [8]);
  assert.match(scrub.stderr, /no disk is online/);
  run('dfs-pool', ['gc', '--pool', B], [0, 4, 8]);
  const bDisks = statusDisks(B);
  for (const d of bDisks) {
    assert.is(d.state, 'foreign', `disk ${d.index} in the copy`);
    assert.match(d.detail ?? '', `labelled by the pool at ${aReal}, which names this disk too`);
    assert.match(d.detail ?? '', /two pools claim it/);
  }
  assert.equal(diffFingerprints(before, fingerprintTree(path.join(dir, 'mnt'), { mtime: true })), [], "the copy's tools changed nothing on the original's disks");

  // The original is told: status (JSON and text), its scrub's report, its metrics.
  for (const d of statusDisks(a.root)) {
    assert.is(d.state, 'online');
    assert.equal(d.claimedBy, [bReal], `disk ${d.index}: claimedBy`);
  }
  const text = run('dfs-pool', ['status', '--pool', a.root], [0]).stdout;
  assert.match(text, `claimed:    disk 0 is named by the pool at ${bReal} too`);
  const report = JSON.parse(run('dfs-scrub', ['--pool', a.root, '--json'], [0]).stdout);
  const told = report.info.filter((f: { kind: string }) => f.kind === 'disk-claimed');
  assert.is(told.length, 3, `one disk-claimed finding per disk: ${JSON.stringify(report.info)}`);
  assert.match(told[0].detail, bReal);
  assert.equal(report.disks.map((d: StatusDisk) => d.claimedBy), [[bReal], [bReal], [bReal]]);
  const textfiles = path.join(dir, 'textfiles');
  fs.mkdirSync(textfiles);
  run('dfs-metrics', ['--pool', a.root, '--textfile-dir', textfiles, '--once'], [0]);
  const prom = fs.readFileSync(path.join(textfiles, fs.readdirSync(textfiles)[0]), 'utf8');
  const claims = prom.split('\n').filter((l) => l.startsWith('dynamicfs_disk_claims{'));
  assert.is(claims.length, 3, prom);
  for (const l of claims) assert.match(l, / 1$/);

  // The copy removed: the note is stale, and the original says nothing more.
  fs.rmSync(B, { recursive: true });
  for (const d of statusDisks(a.root)) assert.is(d.claimedBy, undefined, `disk ${d.index} still claimed after the copy is gone`);
  const notes = fs.readdirSync(CLAIMS_DIR).filter((n) => n.startsWith(`${label(a.disks[0]).disk}.`));
  assert.equal(notes, [], 'the stale note was removed');
});

test('a note that names a pool which does not name the disk shows nothing', () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-forged-');
  const a = poolWithOutsideDisks(dir);
  const elsewhere = path.join(dir, 'other');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'pool.json'), JSON.stringify({ format: 1, id: 'x', disks: [{ id: 'y', path: '/nonexistent' }] }));
  const id = label(a.disks[0]).disk;
  const forged = path.join(CLAIMS_DIR, `${id}.${blake3Hex(`claimant:${fs.realpathSync(elsewhere)}`).slice(0, 32)}`);
  fs.writeFileSync(forged, JSON.stringify({ claimant: fs.realpathSync(elsewhere), disk: id }));
  const garbage = path.join(CLAIMS_DIR, `${id}.garbage`);
  fs.writeFileSync(garbage, 'not json');
  try {
    for (const d of statusDisks(a.root)) assert.is(d.claimedBy, undefined, `disk ${d.index}: a forged note was believed`);
    assert.not.ok(fs.existsSync(forged), 'the stale note was removed');
  } finally {
    fs.rmSync(forged, { force: true });
    fs.rmSync(garbage, { force: true });
  }
});

test('a moved pool adopts its disks with a notice and writes its new place into their labels', () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-moved-');
  const a = poolWithOutsideDisks(dir);
  const oldReal = fs.realpathSync(a.root);
  const moved = path.join(dir, 'A-moved');
  fs.renameSync(a.root, moved);
  const r = run('dfs-scrub', ['--pool', moved], [0]);
  assert.match(r.stderr, `was labelled by this pool at ${oldReal} (moved): adopting it here`);
  for (const d of a.disks) assert.is(label(d).place, fs.realpathSync(moved), `${d}: the label has the new place`);
  const again = run('dfs-pool', ['status', '--pool', moved], [0]);
  assert.not.match(again.stderr, /labelled by/, 'said once, then recorded');
});

test("a copy of pool.json made while the original is away is refused its disks: the original's directory token is not in it", () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-away-');
  const a = poolWithOutsideDisks(dir);
  const away = `${a.root}.away`;
  fs.renameSync(a.root, away);
  const B = path.join(dir, 'B');
  fs.mkdirSync(B);
  fs.copyFileSync(path.join(away, 'pool.json'), path.join(B, 'pool.json'));
  const labels = a.disks.map((d) => fs.readFileSync(path.join(d, 'dynamicfs-disk.json'), 'utf8'));
  run('dfs-scrub', ['--pool', B, '--repair'], [8]);
  for (const d of statusDisks(B)) {
    assert.is(d.state, 'foreign', `disk ${d.index} of the copy`);
    assert.match(d.detail ?? '', /is not that pool directory moved/);
  }
  assert.equal(a.disks.map((d) => fs.readFileSync(path.join(d, 'dynamicfs-disk.json'), 'utf8')), labels, 'labels untouched');
  fs.renameSync(away, a.root);
  const r = run('dfs-scrub', ['--pool', a.root], [0]);
  assert.not.match(r.stderr, /notice/);
  for (const d of statusDisks(a.root)) assert.is(d.state, 'online');
});

test('labels from before places are adopted as they are and never rewritten, so no opener takes them from another', () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-legacy-');
  const a = poolWithOutsideDisks(dir);
  for (const d of a.disks) {
    const { place, placeToken, ...old } = label(d);
    assert.ok(place && placeToken);
    fs.writeFileSync(path.join(d, 'dynamicfs-disk.json'), JSON.stringify(old, null, 2));
  }
  const before = a.disks.map((d) => fs.readFileSync(path.join(d, 'dynamicfs-disk.json'), 'utf8'));
  const B = path.join(dir, 'B');
  fs.mkdirSync(B);
  fs.copyFileSync(path.join(a.root, 'pool.json'), path.join(B, 'pool.json'));
  run('dfs-pool', ['status', '--pool', B], [0]);
  run('dfs-scrub', ['--pool', a.root], [0]);
  assert.equal(a.disks.map((d) => fs.readFileSync(path.join(d, 'dynamicfs-disk.json'), 'utf8')), before, 'no label rewritten');
  for (const d of statusDisks(a.root)) assert.is(d.state, 'online', `the original's disk ${d.index} after the copy opened`);
});

test('a disk id with a path in it names no note: nothing is written outside the claims directory', () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-path-');
  const a = poolWithOutsideDisks(dir);
  const target = path.join(dir, 'victim');
  fs.mkdirSync(target);
  const rel = path.relative(CLAIMS_DIR, path.join(target, 'planted'));
  fs.writeFileSync(path.join(a.disks[2], 'dynamicfs-disk.json'), JSON.stringify({ format: 1, pool: 'elsewhere', disk: rel }));
  run('dfs-scrub', ['--pool', a.root, '--repair'], [0, 1, 4]);
  run('dfs-pool', ['status', '--pool', a.root], [0]);
  assert.equal(fs.readdirSync(target), [], 'a note was planted outside the claims directory');
  assert.equal(fs.readdirSync(CLAIMS_DIR).filter((n) => n.includes('planted')), []);
});

test("root opening a user's pool without becoming its owner writes nothing: no label, token or note", () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-notowner-');
  const a = poolWithOutsideDisks(dir);
  const moved = path.join(dir, 'A-moved');
  fs.renameSync(a.root, moved);
  fs.rmSync(path.join(moved, '.dynamicfs', 'dir-token'));
  spawnSync('chown', ['-R', '65534:65534', moved, path.join(dir, 'mnt')]);
  const before = fingerprintTree(dir, { mtime: true });
  const textfiles = path.join(dir, 'tf');
  run('dfs-scrub-schedule', ['--pool', moved, '--frequency', 'nightly', '--dry-run', 'true', '--unit-dir', path.join(dir, 'units'), '--config-dir', path.join(dir, 'conf')], [0, 4, 8]);
  fs.mkdirSync(textfiles);
  run('dfs-metrics', ['--pool', moved, '--textfile-dir', textfiles, '--once'], [0]);
  const changed = diffFingerprints(before, fingerprintTree(dir, { mtime: true })).filter((l) => !/^\w+ (tf|units|conf)(\/| )/.test(l));
  assert.equal(changed, [], 'root wrote into a pool it did not become the owner of');
});

test('a pool copied whole is a second pool with its own disks, its labels untouched', () => {
  if (!rootReady('disk claims')) return;
  const dir = scratchDir('dfs-claims-whole-');
  const A = path.join(dir, 'A');
  run('dfs-pool', ['create', '--pool', A, '--disks', '3', '--redundancy', 'mirror:2'], [0]);
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, Buffer.alloc(100_000, 3));
  run('dfs-pool', ['put', '--pool', A, src, 'alpha'], [0]);
  const B = path.join(dir, 'B');
  fs.cpSync(A, B, { recursive: true });
  const before = fingerprintTree(B);
  const r = run('dfs-scrub', ['--pool', B], [0]);
  assert.not.match(r.stderr, /notice/, 'nothing to say about a copy of a pool with its disks inside');
  run('dfs-scrub', ['--pool', A], [0]);
  for (const [pool, disks] of [[A, statusDisks(A)], [B, statusDisks(B)]] as const) {
    for (const d of disks) {
      assert.is(d.state, 'online', `${pool} disk ${d.index}`);
      assert.is(d.claimedBy, undefined, `${pool} disk ${d.index} claimed`);
    }
  }
  const changed = diffFingerprints(before, fingerprintTree(B)).filter((l) => !l.includes('.dynamicfs'));
  assert.equal(changed, [], "the copy's disks were not written");
});

test.run();
