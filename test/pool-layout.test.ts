// On-disk layout, DESIGN §1, checked from the outside: shard files named
// `<64 hex>.<index>` under DISK/extents/XX/, one per disk per extent, content
// addressed (same bytes + scheme stored once; another scheme, another extent),
// self-describing headers that decode by hand, manifests replicated on every
// online disk and checksummed, and no temp files left behind.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { checksum64, extentId } from '../src/core/hash';
import { decodeShardHeader, HEADER_SIZE } from '../src/core/shard-header';
import { decodeManifest, Manifest } from '../src/core/manifest';
import { manifestFileName } from '../src/core/layout';
import { formatScheme, parseScheme, Scheme } from '../src/core/scheme';
import { encodeExtent } from '../src/core/erasure';

const EXTENT = 64 * 1024;
const DISKS = 7;

const dir = scratchDir('dfs-pool-layout-');
const pool = path.join(dir, 'pool');
const diskDirs = Array.from({ length: DISKS }, (_, i) => path.join(pool, 'disks', `d${i}`));
const input = path.join(dir, 'input.bin');
const data = randomBytes(3 * EXTENT + 999); // four extents, the last one short

function dfsPool(args: string[]) {
  const r = cli('dfs-pool', args);
  assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

interface ShardFile {
  disk: number;
  id: string;
  index: number;
  file: string;
}

const SHARD_RE = /^([0-9a-f]{64})\.(0|[1-9][0-9]*)$/;

/** Every file under every disk's extents/, checked for the layout's shape on the way. */
function shardFiles(): ShardFile[] {
  const out: ShardFile[] = [];
  diskDirs.forEach((d, disk) => {
    const ext = path.join(d, 'extents');
    for (const fan of fs.readdirSync(ext)) {
      assert.match(fan, /^[0-9a-f]{2}$/, `unexpected entry ${path.join(ext, fan)}`);
      assert.ok(fs.lstatSync(path.join(ext, fan)).isDirectory());
      for (const name of fs.readdirSync(path.join(ext, fan))) {
        const file = path.join(ext, fan, name);
        const m = SHARD_RE.exec(name);
        assert.ok(m, `not a shard file name: ${file}`);
        assert.is(m![1].slice(0, 2), fan, `${file} is not under its first two hex digits`);
        assert.ok(fs.lstatSync(file).isFile(), `${file} is not a regular file`);
        out.push({ disk, id: m![1], index: Number(m![2]), file });
      }
    }
  });
  return out;
}

const chunks = (buf: Buffer) => Array.from({ length: Math.ceil(buf.length / EXTENT) }, (_, i) => buf.subarray(i * EXTENT, (i + 1) * EXTENT));
const nShards = (s: Scheme) => (s.kind === 'mirror' ? s.copies : s.k + s.m);

const TEMP_RE = /(^|\/)\.tmp-|\.dfs-probe-/;
function assertNoTempFiles(where: string) {
  const temps = [...fingerprintTree(where).keys()].filter((n) => TEMP_RE.test(n));
  assert.equal(temps, [], `temp files left in ${where}`);
}

test.before(() => {
  fs.writeFileSync(input, data);
  dfsPool(['create', '--pool', pool, '--disks', String(DISKS), '--redundancy', 'rs:4+2', '--extent-size', '64K']);
  assertNoTempFiles(dir);
  for (const d of diskDirs) {
    const label = JSON.parse(fs.readFileSync(path.join(d, 'dynamicfs-disk.json'), 'utf8'));
    const cfg = JSON.parse(fs.readFileSync(path.join(pool, 'pool.json'), 'utf8'));
    assert.is(label.pool, cfg.id, 'disk label names the pool');
    assert.ok(typeof label.disk === 'string' && typeof label.format === 'number');
  }
});

test('extents: one shard per disk, names <64 hex>.<index> under extents/XX, ids = hash of scheme and data', () => {
  const put = JSON.parse(dfsPool(['put', '--pool', pool, input, 'a', '--json']).stdout);
  assert.is(put.extents, 4);
  assert.is(put.extentsStored, 4);
  const scheme = parseScheme('rs:4+2');
  const wantIds = chunks(data).map((c) => extentId(scheme, c));
  const files = shardFiles();
  assert.is(files.length, 4 * 6, 'rs:4+2: six shard files per extent');
  const byId = new Map<string, ShardFile[]>();
  for (const f of files) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
  assert.equal([...byId.keys()].sort(), [...wantIds].sort(), 'extent ids are the hash of scheme and data');
  for (const [id, shards] of byId) {
    assert.equal(shards.map((s) => s.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], `extent ${id}: indices 0..5 once each`);
    assert.is(new Set(shards.map((s) => s.disk)).size, 6, `extent ${id}: every shard on a distinct disk`);
    assert.match(id, /^[0-9a-f]{64}$/, 'lowercase hex of a 256-bit hash');
  }
  // The hash depends on every byte and on the scheme.
  const flipped = Buffer.from(chunks(data)[0]);
  flipped[100] ^= 1;
  assert.is.not(extentId(scheme, flipped), wantIds[0]);
  assert.is.not(extentId(parseScheme('rs:4+3'), chunks(data)[0]), wantIds[0]);
  assertNoTempFiles(dir);
});

test('same bytes, same scheme: stored once; same bytes, another scheme: other extents', () => {
  const before = shardFiles().length;
  const dup = JSON.parse(dfsPool(['put', '--pool', pool, input, 'a-again', '--json']).stdout);
  assert.is(dup.extentsStored, 0);
  assert.is(dup.extentsDeduplicated, 4);
  assert.is(shardFiles().length, before, 'a second put of the same bytes adds no shard');

  const m2 = JSON.parse(dfsPool(['put', '--pool', pool, input, 'a-mirror', '--redundancy', 'mirror:2', '--json']).stdout);
  assert.is(m2.scheme, 'mirror:2');
  assert.is(m2.extentsStored, 4);
  const after = shardFiles();
  assert.is(after.length, before + 4 * 2, 'mirror:2 adds two shard files per extent');
  const mirrorIds = chunks(data).map((c) => extentId(parseScheme('mirror:2'), c));
  const rsIds = chunks(data).map((c) => extentId(parseScheme('rs:4+2'), c));
  for (const id of mirrorIds) {
    assert.not.ok(rsIds.includes(id), 'the same bytes under two schemes are two extents');
    const shards = after.filter((f) => f.id === id);
    assert.equal(shards.map((s) => s.index).sort(), [0, 1]);
    assert.is(new Set(shards.map((s) => s.disk)).size, 2, 'mirror copies on distinct disks');
  }
  assertNoTempFiles(dir);
});

test('shard headers are self-describing: decode every file by hand and rebuild the data from it', async () => {
  const extents = new Map<string, Buffer>();
  for (const s of ['rs:4+2', 'mirror:2']) for (const c of chunks(data)) extents.set(extentId(parseScheme(s), c), c);
  const files = shardFiles();
  const payloads = new Map<string, Buffer[]>();
  const schemes = new Map<string, Scheme>();
  for (const f of files) {
    const bytes = fs.readFileSync(f.file);
    const h = decodeShardHeader(bytes);
    assert.ok(typeof h !== 'string', `${f.file}: header does not decode (${h})`);
    if (typeof h === 'string') continue;
    assert.is(bytes.subarray(0, 8).toString('latin1'), 'DFSSHRD1', 'magic');
    assert.is(h.extentId, f.id, `${f.file}: header names its extent`);
    assert.is(h.index, f.index, `${f.file}: header names its index`);
    const extent = extents.get(f.id);
    assert.ok(extent, `${f.file}: an extent nobody put`);
    assert.is(h.extentLength, extent!.length, `${f.file}: extent length`);
    assert.is(h.payloadLength, bytes.length - HEADER_SIZE, `${f.file}: payload length`);
    assert.is(h.payloadChecksum, checksum64(bytes.subarray(HEADER_SIZE)), `${f.file}: payload checksum`);
    // Header checksum: any change to the first 120 bytes is caught.
    const bad = Buffer.from(bytes.subarray(0, HEADER_SIZE));
    bad[30] ^= 0x01;
    assert.is(decodeShardHeader(bad), 'header-checksum');
    const list = payloads.get(f.id) ?? [];
    list[f.index] = bytes.subarray(HEADER_SIZE);
    payloads.set(f.id, list);
    const seen = schemes.get(f.id);
    assert.ok(!seen || formatScheme(seen) === formatScheme(h.scheme), `shards of ${f.id} disagree on the scheme`);
    schemes.set(f.id, h.scheme);
  }
  // From the shards alone: the data back, and the parity as the encoder makes it.
  for (const [id, list] of payloads) {
    const scheme = schemes.get(id)!;
    const extent = extents.get(id)!;
    assert.is(extentId(scheme, extent), id, `header scheme ${formatScheme(scheme)} hashes to the file's id`);
    assert.is(list.length, nShards(scheme));
    if (scheme.kind === 'mirror') {
      for (const p of list) assert.ok(p.equals(extent), `mirror copy of ${id} is the extent`);
    } else {
      const joined = Buffer.concat(list.slice(0, scheme.k)).subarray(0, extent.length);
      assert.ok(joined.equals(extent), `data shards of ${id} concatenate to the extent`);
      const encoded = await encodeExtent(scheme, Buffer.from(extent));
      for (let i = scheme.k; i < list.length; i++) assert.ok(list[i].equals(encoded[i]), `parity shard ${i} of ${id}`);
    }
  }
});

function manifestCopies(name: string): string[] {
  return diskDirs.map((d) => path.join(d, 'objects', manifestFileName(name)));
}

test('manifests: one checksummed copy per online disk, all alike, naming the extents', () => {
  const rsIds = chunks(data).map((c) => extentId(parseScheme('rs:4+2'), c));
  for (const d of diskDirs) {
    const names = fs.readdirSync(path.join(d, 'objects')).sort();
    assert.equal(names, ['a', 'a-again', 'a-mirror'].map((n) => manifestFileName(n)).sort(), `${d}/objects holds one manifest per object`);
    for (const n of names) assert.match(n, /^[0-9a-f]{64}\.manifest$/);
  }
  const copies = manifestCopies('a').map((f) => fs.readFileSync(f));
  for (const c of copies) assert.ok(c.equals(copies[0]), 'every copy is the same');
  const m = decodeManifest(copies[0]);
  assert.ok(typeof m !== 'string', `manifest decodes: ${m}`);
  const man = m as Manifest;
  assert.is(man.name, 'a');
  assert.is(man.size, data.length);
  assert.is(man.scheme, 'rs:4+2');
  assert.equal([...man.extents].map((e) => e.id), rsIds);
  assert.equal([...man.extents].map((e) => e.length), chunks(data).map((c) => c.length));
  // It carries a checksum of itself.
  const outer = JSON.parse(copies[0].toString('utf8'));
  assert.match(String(outer.checksum), /^blake3:[0-9a-f]{64}$/);
});

test('manifests: damaged copies are skipped; all copies damaged is a clear error (exit 8)', () => {
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const files = manifestCopies('a');
  const saved = files.map((f) => fs.readFileSync(f));
  try {
    // Garbage in one, truncation in another, and a well-formed JSON edit in a third
    // (only the checksum can catch that one: the size is a plausible number).
    fs.writeFileSync(files[0], 'garbage\n');
    fs.writeFileSync(files[1], saved[1].subarray(0, 40));
    const edited = saved[2].toString('utf8').replace(`"size":${data.length}`, `"size":${data.length - 1}`);
    assert.is.not(edited, saved[2].toString('utf8'));
    fs.writeFileSync(files[2], edited);
    fs.unlinkSync(files[3]);
    let before = fingerprintTree(pool);
    dfsPool(['get', '--pool', pool, 'a', path.join(out, 'a')]);
    assert.ok(fs.readFileSync(path.join(out, 'a')).equals(data), 'get works while some manifest copies are damaged');
    assert.ok(JSON.parse(dfsPool(['ls', '--pool', pool, '--json']).stdout).objects.some((o: { name: string }) => o.name === 'a'));
    assert.equal(diffFingerprints(before, fingerprintTree(pool)), [], 'get does not repair manifests (nor touch the pool)');

    // Every copy edited consistently: valid JSON everywhere, wrong checksum everywhere.
    for (const f of files) if (fs.existsSync(f)) fs.writeFileSync(f, edited);
    before = fingerprintTree(dir);
    const r = cli('dfs-pool', ['get', '--pool', pool, 'a', path.join(out, 'a2')]);
    assert.is(r.status, 8, `every manifest copy damaged: exit ${r.status}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /\ba\b/, 'names the object');
    assert.match(r.stderr, /manifest/);
    assert.match(r.stderr, /checksum/, 'says why');
    assert.equal(diffFingerprints(before, fingerprintTree(dir)), []);
  } finally {
    files.forEach((f, i) => fs.writeFileSync(f, saved[i]));
  }
  dfsPool(['get', '--pool', pool, 'a', path.join(out, 'a3')]);
  assert.ok(fs.readFileSync(path.join(out, 'a3')).equals(data));
  fs.rmSync(out, { recursive: true });
});

test('a manifest copy on one disk is enough', () => {
  const files = manifestCopies('a-mirror');
  const saved = files.map((f) => fs.readFileSync(f));
  try {
    for (const f of files.slice(1)) fs.unlinkSync(f);
    const out = path.join(dir, 'one-copy');
    dfsPool(['get', '--pool', pool, 'a-mirror', out]);
    assert.ok(fs.readFileSync(out).equals(data));
    fs.unlinkSync(out);
  } finally {
    files.forEach((f, i) => fs.writeFileSync(f, saved[i]));
  }
});

test('no temp files after put, get, ls, status, probe-disks, rm', () => {
  const out = path.join(dir, 'outs');
  fs.mkdirSync(out);
  dfsPool(['put', '--pool', pool, input, 'tmpcheck', '--redundancy', 'mirror:3']);
  dfsPool(['get', '--pool', pool, 'tmpcheck', path.join(out, 'x')]);
  dfsPool(['ls', '--pool', pool]);
  dfsPool(['status', '--pool', pool, '--json']);
  dfsPool(['probe-disks', '--pool', pool]);
  dfsPool(['rm', '--pool', pool, 'tmpcheck']);
  assertNoTempFiles(dir);
  assert.equal(fs.readdirSync(out), ['x']);
  fs.rmSync(out, { recursive: true });
  // Nothing unexpected at the top of a disk either.
  for (const d of diskDirs) assert.equal(fs.readdirSync(d).sort(), ['dynamicfs-disk.json', 'extents', 'objects']);
  assert.equal(fs.readdirSync(pool).sort(), ['.dynamicfs', 'disks', 'pool.json']);
});

test.run();
