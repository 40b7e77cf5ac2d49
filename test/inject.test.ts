import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { injectProgram } from '../src/cli/dfs-inject';
import { HEADER_SIZE } from '../src/core/shard-header';
import { cli, CliResult, diffFingerprints, fingerprintTree, repoRoot, requireTool, scratchDir } from './helpers';

// Every fault is checked against the bytes on disk, not against what the tool
// says it did, and every refusal against a fingerprint of the whole pool tree.

interface Shard {
  shard: number;
  disk: { index: number; id: string } | null;
  path: string | null;
  state: string;
  size?: number;
}
interface Listing {
  extent: string;
  scheme: string;
  shards: Shard[];
}

interface TestPool {
  dir: string;
  pool: string;
  data: Buffer;
}

const EXTENT_SIZE = 8192;

/** A pool of six disks holding one object `obj` of three extents (the last one short). */
function makePool(redundancy = 'rs:4+2', size = 2 * EXTENT_SIZE + 3000): TestPool {
  const dir = scratchDir('dfs-inject-');
  const pool = path.join(dir, 'pool');
  ok(cli('dfs-pool', ['create', '--pool', pool, '--disks', '6', '--redundancy', redundancy, '--extent-size', `${EXTENT_SIZE}`]));
  const data = randomBytes(size);
  fs.writeFileSync(path.join(dir, 'obj.bin'), data);
  ok(cli('dfs-pool', ['put', path.join(dir, 'obj.bin'), 'obj', '--pool', pool]));
  return { dir, pool, data };
}

function ok(r: CliResult): CliResult {
  assert.is(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const inject = (t: TestPool, ...args: string[]) => cli('dfs-inject', [...args, '--pool', t.pool]);
const injectJson = (t: TestPool, ...args: string[]) => JSON.parse(ok(inject(t, ...args, '--json')).stdout);

function listing(t: TestPool, ...args: string[]): Listing[] {
  return injectJson(t, 'list', ...(args.length ? args : ['--object', 'obj'])).extents;
}

function shardPathOf(t: TestPool, extentIndex: number, shard: number): string {
  const s = listing(t, '--object', 'obj', '--extent-index', String(extentIndex))[0].shards.find((x) => x.shard === shard);
  assert.ok(s && s.path, `shard ${shard} of extent ${extentIndex} not found`);
  return s.path!;
}

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

/** Bit positions (byte*8+bit) where two equally long buffers differ. */
function differingBits(a: Buffer, b: Buffer): number[] {
  assert.is(a.length, b.length, 'sizes differ');
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ^ b[i];
    for (let bit = 0; bit < 8; bit++) if (x & (1 << bit)) out.push(i * 8 + bit);
  }
  return out;
}

/** The tree changed in exactly these files, and nowhere else. */
function assertOnlyChanged(before: Map<string, string>, after: Map<string, string>, root: string, files: string[]): void {
  const diff = diffFingerprints(before, after);
  const rel = files.map((f) => path.relative(root, f)).sort();
  assert.equal(
    diff.map((d) => d.replace(/^(changed|removed|added) ([^ :]+).*$/, '$2')).sort(),
    rel,
    diff.join('\n'),
  );
}

function getObject(t: TestPool): CliResult & { out: string } {
  const out = path.join(t.dir, `out-${Date.now()}-${Math.random()}`);
  return { ...cli('dfs-pool', ['get', 'obj', out, '--pool', t.pool]), out };
}

// ---------------------------------------------------------------------------
// corrupt

test('corrupt payload flips exactly N bits, all in the payload, of one shard file', () => {
  const t = makePool();
  const file = shardPathOf(t, 0, 1);
  const before = fs.readFileSync(file);
  const tree = fingerprintTree(t.pool);
  const doc = injectJson(t, 'corrupt', '--object', 'obj', '--shard', '1', '--bits', '5');
  const after = fs.readFileSync(file);
  const bits = differingBits(before, after);
  assert.is(bits.length, 5);
  assert.ok(bits.every((b) => b >= HEADER_SIZE * 8), 'a bit outside the payload changed');
  assertOnlyChanged(tree, fingerprintTree(t.pool), t.pool, [file]);
  // The report names exactly the bits that changed.
  assert.is(doc.changes.length, 1);
  const c = doc.changes[0];
  assert.is(c.path, file);
  assert.is(c.shard, 1);
  assert.is(c.region, 'payload');
  const reported = c.flips.flatMap((f: { fileOffset: number; offset: number; bits: number[] }) => {
    assert.is(f.fileOffset, f.offset + HEADER_SIZE);
    return f.bits.map((b) => f.fileOffset * 8 + b);
  });
  assert.equal(reported.sort((a: number, b: number) => a - b), bits);
});

test('corrupt --where header --offset flips bits of that header byte only', () => {
  const t = makePool();
  const file = shardPathOf(t, 0, 0);
  const before = fs.readFileSync(file);
  const r = ok(inject(t, 'corrupt', '--object', 'obj', '--where', 'header', '--offset', '50', '--bits', '3'));
  const bits = differingBits(before, fs.readFileSync(file));
  assert.is(bits.length, 3);
  assert.ok(bits.every((b) => Math.floor(b / 8) === 50), `bits ${bits}`);
  assert.match(r.stdout, new RegExp(`^corrupt header byte 50 bits \\d,\\d,\\d of ${file} \\(disk \\d, extent [0-9a-f]{64}, shard 0\\)\\n$`));
  assert.is(listing(t)[0].shards.find((s) => s.shard === 0)!.state, 'header-damaged');
});

test('corrupt with a seed is repeatable: the same command twice restores the file', () => {
  const t = makePool();
  const file = shardPathOf(t, 1, 2);
  const original = fs.readFileSync(file);
  const first = injectJson(t, 'corrupt', '--object', 'obj', '--extent-index', '1', '--shard', '2', '--bits', '7', '--seed', '42');
  assert.is(differingBits(original, fs.readFileSync(file)).length, 7);
  const second = injectJson(t, 'corrupt', '--object', 'obj', '--extent-index', '1', '--shard', '2', '--bits', '7', '--seed', '42');
  assert.equal(second.changes[0].flips.map((f: { offset: number }) => f.offset), first.changes[0].flips.map((f: { offset: number }) => f.offset));
  assert.ok(fs.readFileSync(file).equals(original));
});

test('corrupt --disk hits the shard on that disk; --all-extents one per extent', () => {
  const t = makePool();
  const ext = listing(t)[0];
  const onDisk3 = ext.shards.find((s) => s.disk?.index === 3)!;
  const doc = injectJson(t, 'corrupt', '--object', 'obj', '--disk', '3');
  assert.is(doc.changes.length, 1);
  assert.is(doc.changes[0].shard, onDisk3.shard);
  assert.is(doc.changes[0].path, onDisk3.path);
  assert.is(doc.changes[0].disk.index, 3);

  const all = injectJson(t, 'corrupt', '--object', 'obj', '--all-extents', '--shard', '5');
  assert.equal(all.changes.map((c: { extent: string }) => c.extent), listing(t).map((e) => e.extent));
  for (const e of listing(t)) assert.is(e.shards.find((s) => s.shard === 5)!.state, 'checksum-mismatch');
});

// ---------------------------------------------------------------------------
// truncate, delete, extend

test('truncate gives the stated size and keeps the bytes before it', () => {
  const t = makePool();
  const file = shardPathOf(t, 0, 3);
  const before = fs.readFileSync(file);
  ok(inject(t, 'truncate', '--object', 'obj', '--shard', '3', '--size', '100'));
  const after = fs.readFileSync(file);
  assert.is(after.length, 100);
  assert.ok(after.equals(before.subarray(0, 100)));

  const half = shardPathOf(t, 0, 4);
  const halfSize = fs.statSync(half).size;
  ok(inject(t, 'truncate', '--object', 'obj', '--shard', '4'));
  assert.is(fs.statSync(half).size, Math.floor(halfSize / 2));

  const zero = shardPathOf(t, 0, 5);
  const tree = fingerprintTree(t.pool);
  const r = ok(inject(t, 'truncate', '--object', 'obj', '--shard', '5', '--zero'));
  assert.is(fs.statSync(zero).size, 0);
  assertOnlyChanged(tree, fingerprintTree(t.pool), t.pool, [zero]);
  assert.match(r.stdout, `truncate ${zero} from ${before.length} to 0 bytes (disk `);
});

test('delete removes exactly one file', () => {
  const t = makePool();
  const file = shardPathOf(t, 2, 4);
  const tree = fingerprintTree(t.pool);
  const r = ok(inject(t, 'delete', '--object', 'obj', '--extent-index', '2', '--shard', '4'));
  assert.not.ok(fs.existsSync(file));
  const diff = diffFingerprints(tree, fingerprintTree(t.pool));
  assert.is(diff.length, 1, diff.join('\n'));
  assert.ok(diff[0].startsWith(`removed ${path.relative(t.pool, file)} `));
  assert.match(r.stdout, `delete ${file}, `);
});

test('extend appends garbage after the bytes the header accounts for', () => {
  const t = makePool();
  const file = shardPathOf(t, 0, 0);
  const before = fs.readFileSync(file);
  const doc = injectJson(t, 'extend', '--object', 'obj', '--bytes', '77');
  const after = fs.readFileSync(file);
  assert.is(after.length, before.length + 77);
  assert.ok(after.subarray(0, before.length).equals(before));
  assert.equal([doc.changes[0].sizeBefore, doc.changes[0].sizeAfter], [before.length, before.length + 77]);
  assert.is(listing(t)[0].shards.find((s) => s.shard === 0)!.state, 'oversized');
});

// ---------------------------------------------------------------------------
// what the pool survives

test('rs:4+2 reads back right after one corrupted shard and after two deleted, and fails with exit 4 after three', () => {
  const t = makePool();
  ok(inject(t, 'corrupt', '--object', 'obj', '--all-extents', '--shard', '0', '--bits', '9'));
  let got = getObject(t);
  assert.is(got.status, 0, got.stderr);
  assert.ok(fs.readFileSync(got.out).equals(t.data), 'wrong bytes after one corrupted shard');

  ok(inject(t, 'delete', '--object', 'obj', '--all-extents', '--shard', '1'));
  // shard 0 corrupt + shard 1 deleted = M bad shards
  got = getObject(t);
  assert.is(got.status, 0, got.stderr);
  assert.ok(fs.readFileSync(got.out).equals(t.data), 'wrong bytes after M bad shards');

  const fresh = makePool();
  ok(inject(fresh, 'delete', '--object', 'obj', '--all-extents', '--shard', '2', '--shard', '5'));
  got = getObject(fresh);
  assert.is(got.status, 0, got.stderr);
  assert.ok(fs.readFileSync(got.out).equals(fresh.data), 'wrong bytes after M deleted shards');
  ok(inject(fresh, 'delete', '--object', 'obj', '--extent-index', '1', '--shard', '0'));
  got = getObject(fresh);
  assert.is(got.status, 4, got.stderr);
  assert.not.ok(fs.existsSync(got.out));
});

test('mirror:3 survives two damaged copies', () => {
  const t = makePool('mirror:3');
  ok(inject(t, 'truncate', '--object', 'obj', '--all-extents', '--shard', '0'));
  ok(inject(t, 'extend', '--object', 'obj', '--all-extents', '--shard', '2'));
  const got = getObject(t);
  assert.is(got.status, 0, got.stderr);
  assert.ok(fs.readFileSync(got.out).equals(t.data));
});

// ---------------------------------------------------------------------------
// disks

test('detach-disk and attach-disk round trip, and refuse to overwrite', () => {
  const t = makePool();
  const disk = path.join(t.pool, 'disks', 'd2');
  const tree = fingerprintTree(t.dir);
  const r = ok(inject(t, 'detach-disk', '--disk', '2'));
  assert.match(r.stdout, `detach-disk moved ${disk} to ${disk}.detached (disk 2, id `);
  assert.not.ok(fs.existsSync(disk));
  assert.ok(fs.statSync(`${disk}.detached`).isDirectory());
  const status = JSON.parse(ok(cli('dfs-pool', ['status', '--pool', t.pool, '--json'])).stdout);
  assert.is(status.disks[2].state, 'missing');
  assert.ok(listing(t).every((e) => e.shards.every((s) => s.disk?.index !== 2)));

  // Detached twice, or attached over something new: refused, nothing moves.
  assert.is(inject(t, 'detach-disk', '--disk', '2').status, 8);
  fs.mkdirSync(disk);
  const mid = fingerprintTree(t.dir);
  const refused = inject(t, 'attach-disk', '--disk', '2');
  assert.is(refused.status, 8);
  assert.match(refused.stderr, disk);
  assert.equal(diffFingerprints(mid, fingerprintTree(t.dir)), []);
  fs.rmdirSync(disk);

  const id = status.disks[2].id;
  ok(inject(t, 'attach-disk', '--disk', id));
  // status saved its summary of the pool with a disk away: a cache in the state directory, not part of the round trip.
  assert.equal(diffFingerprints(tree, fingerprintTree(t.dir)).filter((d) => !d.includes('.dynamicfs/pool-summary.json')), []);
  assert.is(JSON.parse(ok(cli('dfs-pool', ['status', '--pool', t.pool, '--json'])).stdout).disks[2].state, 'online');
  assert.is(inject(t, 'attach-disk', '--disk', '2').status, 8, 'attach of a disk that is not detached');
});

test('with two disks detached rs:4+2 still reads; with three it cannot', () => {
  const t = makePool();
  ok(inject(t, 'detach-disk', '--disk', '0'));
  ok(inject(t, 'detach-disk', '--disk', '5'));
  let got = getObject(t);
  assert.is(got.status, 0, got.stderr);
  assert.ok(fs.readFileSync(got.out).equals(t.data));
  ok(inject(t, 'detach-disk', '--disk', '3'));
  got = getObject(t);
  assert.is(got.status, 4, got.stderr);
});

// ---------------------------------------------------------------------------
// manifests

test('damage-manifest flips one bit of one copy; --all of every copy', () => {
  const t = makePool();
  const objects = (d: number) => path.join(t.pool, 'disks', `d${d}`, 'objects');
  const copies = [0, 1, 2, 3, 4, 5].map((d) => path.join(objects(d), fs.readdirSync(objects(d))[0]));
  const originals = copies.map((c) => fs.readFileSync(c));
  const tree = fingerprintTree(t.pool);
  const doc = injectJson(t, 'damage-manifest', '--object', 'obj', '--disk', '4');
  assert.is(doc.changes[0].path, copies[4]);
  assert.is(differingBits(originals[4], fs.readFileSync(copies[4])).length, 1);
  assertOnlyChanged(tree, fingerprintTree(t.pool), t.pool, [copies[4]]);
  let got = getObject(t);
  assert.is(got.status, 0, 'one damaged copy of six must not matter');

  const all = injectJson(t, 'damage-manifest', '--object', 'obj', '--all', '--seed', '1');
  assert.equal(all.changes.map((c: { path: string }) => c.path), copies);
  for (let i = 0; i < 6; i++) if (i !== 4) assert.is(differingBits(originals[i], fs.readFileSync(copies[i])).length, 1);
  got = getObject(t);
  assert.is(got.status, 8, got.stderr);
  assert.match(got.stderr, 'damaged');
});

// ---------------------------------------------------------------------------
// refusals: the right exit code, one line naming the culprit, nothing changed

function assertRefused(t: TestPool, code: number, args: string[], mention: string | RegExp): void {
  const tree = fingerprintTree(t.dir);
  const r = cli('dfs-inject', args);
  assert.is(r.status, code, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  assert.is(r.stdout, '');
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, mention);
  assert.equal(diffFingerprints(tree, fingerprintTree(t.dir)), [], `${args.join(' ')} changed the tree`);
}

test('refusals exit 8 or 16 and change nothing', () => {
  const t = makePool();
  const p = ['--pool', t.pool];
  const id = listing(t)[0].extent;
  const notPool = path.join(t.dir, 'nowhere');
  fs.mkdirSync(notPool);
  assertRefused(t, 8, ['corrupt', '--pool', notPool, '--object', 'obj'], path.join(notPool, 'pool.json'));
  assertRefused(t, 8, ['detach-disk', '--pool', notPool, '--disk', '0'], notPool);
  assertRefused(t, 16, ['corrupt', ...p, '--extent', 'abc123'], '--extent');
  assertRefused(t, 16, ['delete', ...p, '--extent', id.slice(0, 63) + 'g'], '--extent');
  assertRefused(t, 8, ['delete', ...p, '--extent', (id[0] === '0' ? '1' : '0') + id.slice(1)], 'no extent');
  assertRefused(t, 8, ['delete', ...p, '--object', 'missing'], 'missing');
  assertRefused(t, 8, ['damage-manifest', ...p, '--object', 'missing'], 'missing');
  assertRefused(t, 16, ['delete', ...p, '--object', 'obj', '--shard', '6'], '--shard 6');
  assertRefused(t, 16, ['truncate', ...p, '--extent', id, '--shard', '99'], '--shard 99');
  assertRefused(t, 16, ['corrupt', ...p, '--object', 'obj', '--extent-index', '3'], '--extent-index 3');
  assertRefused(t, 16, ['delete', ...p, '--object', 'obj', '--disk', '6'], '--disk 6');
  assertRefused(t, 16, ['detach-disk', ...p, '--disk', 'sda'], '--disk');
  assertRefused(t, 8, ['detach-disk', ...p, '--disk', '00000000-0000-4000-8000-000000000000'], '--disk');
  assertRefused(t, 16, ['delete', ...p], '--object');
  assertRefused(t, 16, ['delete', ...p, '--object', 'obj', '--extent', id], '--extent');
  assertRefused(t, 16, ['delete', ...p, '--object', 'obj', '--shard', 'x'], '--shard');
  assertRefused(t, 16, ['corrupt', ...p, '--object', 'obj', '--where', 'middle'], '--where');
  assertRefused(t, 16, ['corrupt', ...p, '--object', 'obj', '--where', 'header', '--offset', '128'], '--offset 128');
  assertRefused(t, 16, ['corrupt', ...p, '--object', 'obj', '--offset', '1', '--bits', '9'], '--bits 9');
  assertRefused(t, 16, ['truncate', ...p, '--object', 'obj', '--size', '999999'], '--size 999999');
  assertRefused(t, 16, ['truncate', ...p, '--object', 'obj', '--half', '--zero'], '--zero');
  assertRefused(t, 16, ['corrupt', ...p, '--object', 'obj', '--no-such-option'], '--no-such-option');
  assertRefused(t, 16, ['corrupt', '--object', 'obj'], '--pool');
  // All targets are checked before the first is touched: one bad shard refuses all.
  assertRefused(t, 16, ['delete', ...p, '--object', 'obj', '--shard', '0', '--shard', '7'], '--shard 7');
});

test('a shard that is gone is not found (exit 8), and nothing else is touched instead', () => {
  const t = makePool();
  ok(inject(t, 'delete', '--object', 'obj', '--shard', '2'));
  assertRefused(t, 8, ['corrupt', '--pool', t.pool, '--object', 'obj', '--shard', '2'], 'shard 2');
  const ext = listing(t)[0];
  const other = ext.shards.find((s) => s.shard === 3)!.disk!.index;
  assertRefused(t, 8, ['corrupt', '--pool', t.pool, '--object', 'obj', '--shard', '2', '--disk', String(other)], `disk ${other}`);
});

test('symbolic links and FIFOs are refused, never followed or opened', () => {
  const t = makePool();
  const file = shardPathOf(t, 0, 1);
  const outside = path.join(t.dir, 'outside');
  fs.writeFileSync(outside, 'not pool data');
  fs.renameSync(file, path.join(t.dir, 'saved'));
  fs.symlinkSync(outside, file);
  for (const cmd of [['corrupt'], ['truncate'], ['extend'], ['delete'], ['corrupt', '--where', 'header']]) {
    assertRefused(t, 8, [...cmd, '--pool', t.pool, '--object', 'obj', '--shard', '1'], 'symbolic link');
  }
  assert.is(fs.readFileSync(outside, 'utf8'), 'not pool data');

  // A symlinked fan-out directory would lead out of the pool just the same.
  const fanout = path.dirname(shardPathOf(t, 0, 2));
  fs.renameSync(fanout, path.join(t.dir, 'fanout'));
  fs.symlinkSync(path.join(t.dir, 'fanout'), fanout);
  assertRefused(t, 8, ['corrupt', '--pool', t.pool, '--object', 'obj', '--shard', '2'], 'symbolic link');

  const fifoFile = shardPathOf(t, 0, 3);
  fs.rmSync(fifoFile);
  const mk = spawnSync('mkfifo', [fifoFile]);
  if (mk.status === 0) assertRefused(t, 8, ['corrupt', '--pool', t.pool, '--object', 'obj', '--shard', '3'], 'not a regular file');
});

// ---------------------------------------------------------------------------
// list, help and the man page

test('list shows every shard with its disk and state, and changes nothing', () => {
  const t = makePool();
  const tree = fingerprintTree(t.pool);
  const extents = listing(t);
  assert.is(extents.length, 3);
  for (const e of extents) {
    assert.is(e.scheme, 'rs:4+2');
    assert.equal(e.shards.map((s) => s.shard), [0, 1, 2, 3, 4, 5]);
    assert.ok(e.shards.every((s) => s.state === 'ok' && s.path!.startsWith(path.join(t.pool, 'disks', `d${s.disk!.index}`, 'extents'))));
    assert.is(new Set(e.shards.map((s) => s.disk!.index)).size, 6, 'shards of one extent share a disk');
  }
  ok(inject(t, 'delete', '--extent', extents[1].extent, '--shard', '4'));
  const after = listing(t, '--extent', extents[1].extent)[0].shards.find((s) => s.shard === 4)!;
  assert.equal([after.state, after.path, after.disk], ['missing', null, null]);
  const text = ok(inject(t, 'list', '--object', 'obj', '--extent-index', '1')).stdout;
  assert.match(text, `extent ${extents[1].extent} (rs:4+2, object "obj" extent 1)`);
  assert.match(text, /\n\s+4\s+-\s+missing\s/);
  const treeAfterDelete = fingerprintTree(t.pool);
  ok(inject(t, 'list', '--object', 'obj'));
  assert.equal(diffFingerprints(treeAfterDelete, fingerprintTree(t.pool)), []);
  assert.is(diffFingerprints(tree, treeAfterDelete).length, 1);
});

/** Long option names that a ProgramSpec gives, plus sade's own. */
function specOptions(): Set<string> {
  const names = new Set(['--help', '-h', '--version', '-v']);
  for (const o of [...injectProgram.common, ...injectProgram.commands.flatMap((c) => c.options)]) {
    for (const f of o.flag.split(/,\s*/)) names.add(f.trim());
  }
  return names;
}

test('every option in --help is in the man page, and every option in the page is in --help', () => {
  const page = fs.readFileSync(path.join(repoRoot, 'man', 'dfs-inject.8'), 'utf8');
  const inPage = new Set<string>();
  for (const line of page.split('\n')) {
    if (!/^\.(Fl|Op|It|Cm)\b/.test(line) && !/\bFl /.test(line)) continue;
    for (const m of line.matchAll(/\bFl (-[-\w]+|\w)(?![-\w])/g)) inPage.add(`-${m[1]}`); // mdoc writes --x as Fl -x, -h as Fl h
    // ".Fl -object , -extent-index" lists several flags after one Fl
    for (const m of line.matchAll(/, (-[-\w]+)/g)) if (/\bFl\b/.test(line)) inPage.add(`-${m[1]}`);
  }
  const inHelp = new Set<string>();
  for (const c of ['', ...injectProgram.commands.map((x) => x.usage)]) {
    const r = ok(cli('dfs-inject', c ? [c, '--help'] : ['--help']));
    for (const m of r.stdout.matchAll(/^\s+((?:-[a-z], )?--[a-z-]+)/gm)) for (const f of m[1].split(', ')) inHelp.add(f);
  }
  assert.equal([...inHelp].sort(), [...specOptions()].sort(), 'the help differs from the spec');
  assert.equal([...inPage].sort(), [...inHelp].sort());
  for (const c of injectProgram.commands) assert.match(page, new RegExp(`^\\.(It )?Cm ${c.usage}\\b`, 'm'), `command ${c.usage} is not in the page`);
});

test('the man page is clean under mandoc -Tlint', () => {
  if (!requireTool('mandoc')) return;
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', path.join(repoRoot, 'man', 'dfs-inject.8')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is(r.stdout + r.stderr, '');
});

test.run();
