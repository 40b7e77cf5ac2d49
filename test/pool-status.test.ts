// status and probe-disks (text and --json) on a pool holding objects of two
// schemes, with disks online, missing (renamed away, label gone) and foreign
// (label of another pool); and rm, which removes the manifest copies and the
// extents no other object references.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, fingerprintTree, scratchDir } from './helpers';
import { manifestFileName } from '../src/core/layout';
import { extentId } from '../src/core/hash';
import { parseScheme } from '../src/core/scheme';

const EXTENT = 64 * 1024;

function dfsPool(args: string[]) {
  const r = cli('dfs-pool', args);
  assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

function makePool(name: string, disks = 6) {
  const dir = scratchDir(`dfs-pool-${name}-`);
  const pool = path.join(dir, 'pool');
  dfsPool(['create', '--pool', pool, '--disks', String(disks), '--redundancy', 'rs:4+2', '--extent-size', '64K']);
  const diskDirs = Array.from({ length: disks }, (_, i) => path.join(pool, 'disks', `d${i}`));
  return { dir, pool, diskDirs };
}

/** Shard files per disk directory (by name shape, as an outside check would count them). */
function shardFilesOn(disk: string): string[] {
  const ext = path.join(disk, 'extents');
  if (!fs.existsSync(ext)) return [];
  return fs.readdirSync(ext).flatMap((fan) => fs.readdirSync(path.join(ext, fan)).filter((f) => /^[0-9a-f]{64}\.\d+$/.test(f)));
}

function put(pool: string, dir: string, name: string, bytes: Buffer, ...extra: string[]) {
  const file = path.join(dir, `${name}.in`);
  fs.writeFileSync(file, bytes);
  return JSON.parse(dfsPool(['put', '--pool', pool, file, name, '--json', ...extra]).stdout);
}

/** The text line of `status` or `probe-disks` that shows this disk path. */
function lineFor(text: string, disk: string): string {
  const re = new RegExp(`${disk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=\\s|$)`);
  const lines = text.split('\n').filter((l) => re.test(l));
  assert.is(lines.length, 1, `one line for ${disk} in:\n${text}`);
  return lines[0];
}

// ---------------------------------------------------------------------------

const S = makePool('status');
const rsData = randomBytes(3 * EXTENT - 5);
const mirrorData = randomBytes(2 * EXTENT);

test.before(() => {
  const a = put(S.pool, S.dir, 'rs-obj', rsData);
  assert.is(a.scheme, 'rs:4+2');
  const b = put(S.pool, S.dir, 'mirror-obj', mirrorData, '--redundancy', 'mirror:2');
  assert.is(b.scheme, 'mirror:2');
});

test('one pool holds mirror:2 and rs:4+2 objects; ls, status and the shards say so', () => {
  const ls = JSON.parse(dfsPool(['ls', '--pool', S.pool, '--json']).stdout).objects as { name: string; scheme: string; size: number; extents: number }[];
  assert.equal(
    ls.map((o) => [o.name, o.scheme, o.size, o.extents]),
    [
      ['mirror-obj', 'mirror:2', mirrorData.length, 2],
      ['rs-obj', 'rs:4+2', rsData.length, 3],
    ],
  );
  const lsText = dfsPool(['ls', '--pool', S.pool]).stdout;
  assert.match(lsText, /mirror-obj.*mirror:2/);
  assert.match(lsText, /rs-obj.*rs:4\+2/);

  const st = JSON.parse(dfsPool(['status', '--pool', S.pool, '--json']).stdout);
  assert.is(st.defaultRedundancy, 'rs:4+2');
  assert.is(st.extentSize, EXTENT);
  assert.equal(st.schemes['rs:4+2'], { objects: 1, extents: 3, bytes: rsData.length });
  assert.equal(st.schemes['mirror:2'], { objects: 1, extents: 2, bytes: mirrorData.length });
  assert.equal(Object.keys(st.schemes).sort(), ['mirror:2', 'rs:4+2']);
  assert.is(st.objects, 2);
  assert.is(st.extents, 5);
  assert.is(st.bytes, rsData.length + mirrorData.length);
  assert.is(st.disks.length, 6);
  assert.ok(st.disks.every((d: { state: string }) => d.state === 'online'));
  assert.is(st.disksByState.online, 6);
  assert.is(st.pool, S.pool);

  const text = dfsPool(['status', '--pool', S.pool]).stdout;
  assert.match(text, /^\s*rs:4\+2: 1 objects?, 3 extents?/m, 'status lists rs:4+2 with its counts');
  assert.match(text, /^\s*mirror:2: 1 objects?, 2 extents?/m, 'status lists mirror:2 with its counts');
  assert.ok(text.includes(S.pool));
  for (const d of S.diskDirs) assert.match(lineFor(text, d), /\bonline\b/);

  // The shards themselves: six per rs:4+2 extent, two per mirror:2 extent.
  const total = S.diskDirs.reduce((n, d) => n + shardFilesOn(d).length, 0);
  assert.is(total, 3 * 6 + 2 * 2);
  const mirrorIds = [0, 1].map((i) => extentId(parseScheme('mirror:2'), mirrorData.subarray(i * EXTENT, (i + 1) * EXTENT)));
  for (const id of mirrorIds) assert.is(S.diskDirs.filter((d) => fs.existsSync(path.join(d, 'extents', id.slice(0, 2), `${id}.0`)) || fs.existsSync(path.join(d, 'extents', id.slice(0, 2), `${id}.1`))).length, 2);
});

test('probe-disks with every disk online: exit 0, probe ok, free and total bytes, shard counts that add up', () => {
  const r = cli('dfs-pool', ['probe-disks', '--pool', S.pool, '--json']);
  assert.is(r.status, 0, r.stderr);
  const disks = JSON.parse(r.stdout).disks as { path: string; state: string; probe: string; freeBytes: number; totalBytes: number; shards: number }[];
  assert.is(disks.length, 6);
  let sum = 0;
  for (const d of disks) {
    assert.is(d.state, 'online', d.path);
    assert.is(d.probe, 'ok', d.path);
    assert.ok(d.freeBytes > 0, `${d.path}: free bytes ${d.freeBytes}`);
    assert.ok(d.totalBytes > 0 && d.totalBytes >= d.freeBytes, `${d.path}: total bytes ${d.totalBytes}`);
    assert.is(d.shards, shardFilesOn(d.path).length, `${d.path}: shard count`);
    sum += d.shards;
  }
  assert.is(sum, 22, 'shard counts add up to the shard files in the pool');
  assert.equal(disks.map((d) => d.path), S.diskDirs);

  const t = cli('dfs-pool', ['probe-disks', '--pool', S.pool]);
  assert.is(t.status, 0, t.stderr);
  let textSum = 0;
  for (const d of S.diskDirs) {
    const line = lineFor(t.stdout, d);
    assert.match(line, /\bonline\b/);
    assert.match(line, /\bok\b/);
    const m = /\s(\d+)\s+\S*$/.exec(line.slice(0, line.indexOf(d) + d.length));
    assert.ok(m, `shard count before the path in: ${line}`);
    textSum += Number(m![1]);
  }
  assert.is(textSum, 22);
  // The probe leaves nothing behind.
  assert.equal([...fingerprintTree(S.pool).keys()].filter((k) => k.includes('.dfs-probe') || k.includes('.tmp-')), []);
});

test('disks missing (renamed away, label gone) and foreign (label of another pool): status and probe-disks show it', () => {
  const [d0, , d2, , d4, d5] = S.diskDirs;
  const labelFile = path.join(d4, 'dynamicfs-disk.json');
  const savedLabel = fs.readFileSync(labelFile);
  const otherPool = randomUUID();
  fs.renameSync(d2, `${d2}.away`);
  fs.writeFileSync(labelFile, JSON.stringify({ ...JSON.parse(savedLabel.toString('utf8')), pool: otherPool }, null, 2));
  try {
    const st = JSON.parse(dfsPool(['status', '--pool', S.pool, '--json']).stdout);
    const state = (p: string) => st.disks.find((d: { path: string }) => d.path === p)?.state;
    assert.is(state(d2), 'missing');
    assert.is(state(d4), 'foreign');
    for (const d of [S.diskDirs[0], S.diskDirs[1], S.diskDirs[3], d5]) assert.is(state(d), 'online');
    assert.is(st.disksByState.online, 4);
    assert.is(st.disksByState.missing, 1);
    assert.is(st.disksByState.foreign, 1);
    assert.ok(String(st.disks.find((d: { path: string }) => d.path === d4).detail).includes(otherPool), 'foreign detail names the other pool');

    const text = cli('dfs-pool', ['status', '--pool', S.pool]);
    assert.ok(text.status === 0 || text.status === 4, `status exit ${text.status}: ${text.stderr}`);
    assert.match(lineFor(text.stdout, d2), /\bmissing\b/);
    assert.match(lineFor(text.stdout, d4), /\bforeign\b/);
    assert.match(lineFor(text.stdout, d0), /\bonline\b/);

    const pj = cli('dfs-pool', ['probe-disks', '--pool', S.pool, '--json']);
    assert.ok(pj.status === 0 || pj.status === 4, pj.stderr); // exactly 4: checked last, below
    const probes = JSON.parse(pj.stdout).disks as { path: string; state: string; probe: string; freeBytes?: number; shards?: number }[];
    const probe = (p: string) => probes.find((d) => d.path === p)!;
    assert.is(probe(d2).state, 'missing');
    assert.is.not(probe(d2).probe, 'ok');
    assert.is(probe(d2).freeBytes, undefined);
    assert.is(probe(d4).state, 'foreign');
    assert.is.not(probe(d4).probe, 'ok', 'a foreign disk is not written to');
    const online = probes.filter((d) => d.state === 'online');
    assert.is(online.length, 4);
    for (const d of online) {
      assert.is(d.probe, 'ok');
      assert.is(d.shards, shardFilesOn(d.path).length);
    }
    const pt = cli('dfs-pool', ['probe-disks', '--pool', S.pool]);
    assert.is(pt.status, 4);
    assert.match(lineFor(pt.stdout, d2), /\bmissing\b/);
    assert.match(lineFor(pt.stdout, d4), /\bforeign\b/);

    // Two disks out of six: every rs:4+2 extent has lost at most two shards.
    const g = cli('dfs-pool', ['get', '--pool', S.pool, 'rs-obj', path.join(S.dir, 'rs.out')]);
    assert.is(g.status, 0, g.stderr);
    assert.ok(fs.readFileSync(path.join(S.dir, 'rs.out')).equals(rsData));
    fs.unlinkSync(path.join(S.dir, 'rs.out'));

    // A mount point whose drive is not mounted: the directory is there, the label is not.
    const label5 = path.join(d5, 'dynamicfs-disk.json');
    fs.renameSync(label5, `${label5}.away`);
    try {
      const st5 = JSON.parse(dfsPool(['status', '--pool', S.pool, '--json']).stdout);
      assert.is(st5.disks.find((d: { path: string }) => d.path === d5).state, 'missing');
    } finally {
      fs.renameSync(`${label5}.away`, label5);
    }
    // The exit code does not depend on the output format.
    assert.is(pj.status, 4, `probe-disks --json with disks not online exits 4 as the text form does: ${pj.stderr}`);
  } finally {
    fs.renameSync(`${d2}.away`, d2);
    fs.writeFileSync(labelFile, savedLabel);
  }
  const st = JSON.parse(dfsPool(['status', '--pool', S.pool, '--json']).stdout);
  assert.is(st.disksByState.online, 6);
});

// ---------------------------------------------------------------------------

test('rm removes every manifest copy and the extents no other object references, keeping shared ones', () => {
  const R = makePool('rm');
  const x = [0, 1, 2].map(() => randomBytes(EXTENT));
  const y = randomBytes(EXTENT - 77);
  const a = Buffer.concat([x[0], x[1], x[2]]);
  const b = Buffer.concat([x[0], x[1], y]); // shares its first two extents with a
  const zeros = Buffer.alloc(4 * EXTENT); // four references to one extent
  put(R.pool, R.dir, 'a', a);
  put(R.pool, R.dir, 'b', b);
  put(R.pool, R.dir, 'zeros', zeros);
  const rs = parseScheme('rs:4+2');
  const ids = { x0: extentId(rs, x[0]), x1: extentId(rs, x[1]), x2: extentId(rs, x[2]), y: extentId(rs, y), z: extentId(rs, zeros.subarray(0, EXTENT)) };
  const shardsOf = (id: string) => R.diskDirs.flatMap((d) => shardFilesOn(d)).filter((f) => f.startsWith(`${id}.`)).length;
  const total = () => R.diskDirs.reduce((n, d) => n + shardFilesOn(d).length, 0);
  const manifests = (name: string) => R.diskDirs.filter((d) => fs.existsSync(path.join(d, 'objects', manifestFileName(name)))).length;
  assert.is(total(), 5 * 6);
  assert.is(manifests('a'), 6);

  const ra = JSON.parse(dfsPool(['rm', '--pool', R.pool, 'a', '--json']).stdout);
  assert.equal(ra, { name: 'a', extentsRemoved: 1, shardsRemoved: 6 });
  assert.is(manifests('a'), 0, 'every copy of the manifest is gone');
  assert.is(shardsOf(ids.x2), 0, 'the extent only a used is gone');
  for (const id of [ids.x0, ids.x1, ids.y, ids.z]) assert.is(shardsOf(id), 6, 'shared and unrelated extents stay whole');
  assert.is(total(), 4 * 6);
  const gb = cli('dfs-pool', ['get', '--pool', R.pool, 'b', path.join(R.dir, 'b.out')]);
  assert.is(gb.status, 0, gb.stderr);
  assert.is(gb.stderr, '', 'b is intact: no warnings');
  assert.ok(fs.readFileSync(path.join(R.dir, 'b.out')).equals(b));
  const ga = cli('dfs-pool', ['get', '--pool', R.pool, 'a', path.join(R.dir, 'a.out')]);
  assert.is(ga.status, 8);
  assert.match(ga.stderr, /no such object: a/);
  assert.equal(JSON.parse(dfsPool(['ls', '--pool', R.pool, '--json']).stdout).objects.map((o: { name: string }) => o.name), ['b', 'zeros']);

  const rz = JSON.parse(dfsPool(['rm', '--pool', R.pool, 'zeros', '--json']).stdout);
  assert.equal(rz, { name: 'zeros', extentsRemoved: 1, shardsRemoved: 6 });
  const text = dfsPool(['rm', '--pool', R.pool, 'b']).stdout;
  assert.match(text, /\bb\b/);
  assert.is(total(), 0, 'nothing left once every object is removed');
  for (const d of R.diskDirs) assert.equal(fs.readdirSync(path.join(d, 'objects')), []);
  assert.equal(JSON.parse(dfsPool(['ls', '--pool', R.pool, '--json']).stdout).objects, []);
  assert.equal([...fingerprintTree(R.dir).keys()].filter((k) => k.includes('.tmp-')), []);
});

test('rm while a disk is away does not leave the object to come back, broken, with the disk', () => {
  const R = makePool('rm-away');
  const data = randomBytes(2 * EXTENT + 10);
  put(R.pool, R.dir, 'obj', data);
  const d0 = R.diskDirs[0];
  fs.renameSync(d0, `${d0}.away`);
  let r;
  try {
    r = cli('dfs-pool', ['rm', '--pool', R.pool, 'obj']);
  } finally {
    fs.renameSync(`${d0}.away`, d0);
  }
  const listed = JSON.parse(dfsPool(['ls', '--pool', R.pool, '--json']).stdout).objects.map((o: { name: string }) => o.name);
  if (r.status === 0) {
    // Removed: it must stay removed when the disk returns.
    assert.equal(listed, [], 'the removed object is listed again once the disk is back');
    const g = cli('dfs-pool', ['get', '--pool', R.pool, 'obj', path.join(R.dir, 'out')]);
    assert.is(g.status, 8, `get of a removed object: exit ${g.status}: ${g.stderr}`);
  } else {
    // Refused: an operational error naming the disk, and the object intact.
    assert.is(r.status, 8, r.stderr);
    assert.ok(r.stderr.includes(d0), `names the missing disk: ${r.stderr}`);
    assert.equal(listed, ['obj']);
    const g = cli('dfs-pool', ['get', '--pool', R.pool, 'obj', path.join(R.dir, 'out')]);
    assert.is(g.status, 0, g.stderr);
    assert.ok(fs.readFileSync(path.join(R.dir, 'out')).equals(data));
  }
});

test.run();
