// Manifests are streamed, never held whole: a copy is proven and parsed in
// chunks, any chunking gives the same manifest, any valid JSON of the
// manifest's shape is read as JSON.parse would, and a hostile body is a
// damaged copy with a reason. The tools hold a 2M-extent manifest in flat
// memory: ls, status, scrub and repair are measured by their peak RSS.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cli, cliPath, requireTool, scratchDir, which } from './helpers';
import { blake3Hex } from '../src/core/hash';
import { decodeManifest, encodeManifest, ExtentList, Manifest, MAX_MANIFEST_BYTES, readManifestFile } from '../src/core/manifest';
import { ManifestBodyParser } from '../src/core/manifest-parser';
import { manifestPath } from '../src/core/layout';

const dir = scratchDir('dfs-manifest-stream-');

function sampleManifest(extents: number, name = 'sample'): Manifest {
  const list = new ExtentList();
  let size = 0;
  for (let i = 0; i < extents; i++) {
    const length = 1 + ((i * 7919) % 65536);
    list.push(randomBytes(32).toString('hex'), length);
    size += length;
  }
  return { format: 1, name, size, scheme: 'rs:4+2', extentSize: 65536, created: '2026-12-02T01:02:03.000Z', extents: list };
}

/** A copy of the exact body text, with a checksum that holds. */
const signed = (body: string) => Buffer.from(`{"manifest":${body},"checksum":"blake3:${blake3Hex(body)}"}\n`);

/** The body's JSON as plain objects, as JSON.parse would read it. */
function plain(m: Manifest): Record<string, unknown> {
  return { format: m.format, name: m.name, size: m.size, scheme: m.scheme, extentSize: m.extentSize, created: m.created, extents: [...m.extents] };
}

function decoded(copy: Buffer): Manifest {
  const m = decodeManifest(copy);
  if (typeof m === 'string') throw new Error(`decodes as damaged: ${m}`);
  return m;
}

test('any chunking of a body parses to the same manifest', () => {
  const m = sampleManifest(300, 'a "quoted" \\ name \u0001 é ☃ \u2028');
  const copy = encodeManifest(m);
  assert.equal(plain(decoded(copy)), plain(m));
  assert.equal(JSON.parse(copy.toString()).manifest, plain(m), 'the copy is the JSON it claims');
  const body = copy.subarray('{"manifest":'.length, copy.lastIndexOf(',"checksum":"'));
  for (const size of [1, 2, 3, 7, 64, 65, 66, 1000, body.length]) {
    const p = new ManifestBodyParser(true, body.length);
    for (let at = 0; at < body.length; at += size) p.feed(Buffer.from(body.subarray(at, at + size)));
    assert.is(p.end(), undefined, `chunks of ${size}: ${p.end()}`);
    assert.is(p.count, 300);
    assert.ok(p.extents!.equals(m.extents), `chunks of ${size}: the same extents`);
    assert.is(p.fields.get('name'), m.name, `chunks of ${size}: the same name`);
  }
});

test('any valid JSON of the shape reads as JSON.parse reads it', () => {
  const m = sampleManifest(5);
  const p = plain(m) as Record<string, any>;
  const variants: [string, string][] = [
    ['pretty-printed', JSON.stringify(p, null, 2)],
    ['keys in another order', JSON.stringify({ extents: p.extents.map((e: any) => ({ length: e.length, id: e.id })), created: p.created, size: p.size, extentSize: p.extentSize, scheme: p.scheme, name: p.name, format: 1 })],
    ['members we do not know', JSON.stringify({ ...p, note: 'x', flag: true, nothing: null, ratio: -1.5e3, extents: p.extents.map((e: any) => ({ ...e, extra: 'y' })) })],
    ['items ending in a member with an empty key (the body ends 7 bytes after it)', JSON.stringify({ ...p, extents: p.extents.map((e: any) => ({ ...e, '': 0 })) })],
    ['an id with escapes', JSON.stringify(p).replace(`"${p.extents[0].id}"`, `"\\u00${p.extents[0].id.charCodeAt(0).toString(16)}${p.extents[0].id.slice(1)}"`)],
    ['a length as 4.0e3 when it is 4000', JSON.stringify({ ...p, size: p.size - p.extents[0].length + 4000, extents: [{ ...p.extents[0], length: 4000 }, ...p.extents.slice(1)] }).replace('"length":4000', '"length":4.0e3')],
  ];
  for (const [what, body] of variants) {
    const want = JSON.parse(body);
    const got = decodeManifest(signed(body));
    assert.ok(typeof got !== 'string', `${what}: damaged: ${got}`);
    const g = got as Manifest;
    assert.equal([...g.extents], want.extents.map((e: any) => ({ id: e.id, length: e.length })), `${what}: extents`);
    assert.is(g.size, want.size, `${what}: size`);
    assert.is(g.name, want.name, `${what}: name`);
  }
});

test('a hostile body is a damaged copy with its reason, never a throw', () => {
  const m = sampleManifest(3);
  const good = JSON.stringify(plain(m));
  const id = m.extents.id(0);
  const cases: [string, string, RegExp][] = [
    ['cut short', good.slice(0, -5), /not valid JSON/],
    ['an empty body', '', /not a manifest/],
    ['text after the object', `${good} {}`, /not valid JSON/],
    ['an array', `[${good}]`, /unsupported format/],
    ['a nested header member', good.replace('"scheme":', '"x":{"a":1},"scheme":'), /unsupported format/],
    ['two extent lists', good.replace('"extents":', '"extents":[],"extents":'), /two extent lists/],
    ['a member named twice', good.replace('"scheme":', '"name":"other","scheme":'), /two members named "name"/],
    ['extents an object', good.replace(/"extents":.*\]\}$/, '"extents":{"length":1}}'), /unsupported format/],
    ['a null extent', good.replace(/"extents":.*\]\}$/, '"extents":[null]}'), /bad extent list/],
    ['an empty extent', good.replace(/"extents":\[/, '"extents":[{},'), /bad extent list/],
    ['an extent named twice', good.replace(`{"id":"${id}"`, `{"id":"${id}","id":"${id}"`), /bad extent list/],
    ['an uppercase id', good.replace(id, id.toUpperCase()), /bad extent list/],
    ['a short id', good.replace(id, id.slice(2)), /bad extent list/],
    ['a path as id', good.replace(id, '../../../../etc/passwd'), /bad extent list/],
    ['a nested id', good.replace(`"${id}"`, `{"a":"${id}"}`), /bad extent list/],
    ['a length of 2^40', good.replace(/"length":\d+/, `"length":${2 ** 40}`), /bad extent length 1099511627776/],
    ['a length of 2^31', good.replace(/"length":\d+/, `"length":${2 ** 31}`), /bad extent length 2147483648/],
    ['a negative length', good.replace(/"length":\d+/, '"length":-5'), /bad extent length -5/],
    ['a zero length', good.replace(/"length":\d+/, '"length":0'), /bad extent length 0/],
    ['a fractional length', good.replace(/"length":\d+/, '"length":1.5'), /bad extent length 1.5/],
    ['a length as a string', good.replace(/"length":(\d+)/, '"length":"$1"'), /bad extent length "\d+"/],
    ['a length of 01', good.replace(/"length":\d+/, '"length":01'), /not valid JSON/],
    ['a number of 100 digits', good.replace(/"length":\d+/, `"length":${'9'.repeat(100)}`), /not valid JSON/],
    ['a raw control character', good.replace('"sample"', '"sam\u0001ple"'), /not valid JSON/],
    ['a bad escape', good.replace('"sample"', '"sam\\qple"'), /not valid JSON/],
    ['size not the sum', good.replace(`"size":${m.size}`, `"size":${m.size + 1}`), /is not the sum of its extents/],
    ['size 2^60', good.replace(`"size":${m.size}`, `"size":${2 ** 60}`), /is not the sum of its extents/],
    ['a 5000-byte name', good.replace('"sample"', JSON.stringify('n'.repeat(5000))), /object name longer than 4096 bytes/],
    ['a bogus scheme', good.replace('"rs:4+2"', '"rs:255+255"'), /bad scheme rs:255\+255/],
    ['a 100,000-byte creation time', good.replace(`"${m.created}"`, JSON.stringify('x'.repeat(100_000))), /bad creation time/],
    ['a 300 KB string', good.replace(`"${m.created}"`, JSON.stringify('x'.repeat(300_000))), /a member longer than 262144 bytes/],
    ['300 KB of white space in an item', good.replace(`{"id"`, `{${' '.repeat(300_000)}"id"`), /a member longer than 262144 bytes/],
    ['1.5 MB of header members', good.replace('"scheme":', Array.from({ length: 8 }, (_, i) => `"m${i}":${JSON.stringify('x'.repeat(200_000))},`).join('') + '"scheme":'), /a header longer than 1048576 bytes/],
    ['a bad extent size', good.replace('"extentSize":65536', '"extentSize":-1'), /bad extent size -1/],
    ['no extent list', good.replace(/,"extents":.*\]\}$/, '}'), /unsupported format/],
  ];
  for (const [what, body, reason] of cases) {
    let got: Manifest | string;
    try {
      got = decodeManifest(signed(body));
    } catch (err) {
      throw new Error(`${what}: threw ${err}`);
    }
    assert.type(got, 'string', `${what}: read as a manifest`);
    assert.match(got as string, reason, `${what}: the reason`);
  }
  // Proven before parsed: a checksum that does not hold says so, whatever the body.
  assert.is(decodeManifest(Buffer.from(`{"manifest":[1,2,"checksum":"blake3:${'0'.repeat(64)}"}`)), 'checksum mismatch');
  assert.is(decodeManifest(Buffer.from('{"manifest":{}}')), 'not a manifest');
});

test('a copy file is proven and parsed in chunks: across 1 MiB boundaries, short reads, flipped bytes', () => {
  const m = sampleManifest(30_000);
  const copy = encodeManifest(m);
  assert.ok(copy.length > 2.5 * 1024 * 1024, `several chunks: ${copy.length} bytes`);
  const file = path.join(dir, 'copy.manifest');
  fs.writeFileSync(file, copy);
  const back = readManifestFile(file);
  assert.ok(typeof back !== 'string', `damaged: ${back}`);
  assert.ok((back as Manifest).extents.equals(m.extents));
  // A flipped byte in the middle of the body: the checksum no longer holds.
  const flipped = Buffer.from(copy);
  flipped[Math.floor(copy.length / 2)] ^= 0x01;
  fs.writeFileSync(file, flipped);
  assert.is(readManifestFile(file), 'checksum mismatch');
  // Cut in the middle: no checksum at its end.
  fs.writeFileSync(file, copy.subarray(0, copy.length / 2));
  assert.is(readManifestFile(file), 'not a manifest');
  // Larger than the cap (sparse): judged unread.
  fs.writeFileSync(file, '');
  fs.truncateSync(file, MAX_MANIFEST_BYTES + 1);
  assert.match(String(readManifestFile(file)), /larger than/);
  fs.rmSync(file);
  assert.is(readManifestFile(file), 'missing');
  fs.symlinkSync(path.join(dir, 'elsewhere'), file);
  assert.is(readManifestFile(file), 'not a regular file');
});

test('a small copy is proven from one read: flipped, cut, and what is no regular file never blocks', async () => {
  const m = sampleManifest(3);
  const copy = encodeManifest(m);
  assert.ok(copy.length < 4096, `one read: ${copy.length} bytes`);
  const file = path.join(dir, 'small.manifest');
  fs.writeFileSync(file, copy);
  const back = readManifestFile(file);
  assert.ok(typeof back !== 'string', `damaged: ${back}`);
  assert.ok((back as Manifest).extents.equals(m.extents));
  for (const at of [copy.length >> 1, copy.length - 10]) {
    const flipped = Buffer.from(copy);
    flipped[at] ^= 0x01;
    fs.writeFileSync(file, flipped);
    assert.match(String(readManifestFile(file)), /checksum mismatch|not a manifest/, `byte ${at} flipped`);
  }
  fs.writeFileSync(file, copy.subarray(0, 5));
  assert.is(readManifestFile(file), 'not a manifest');
  fs.writeFileSync(file, '');
  assert.is(readManifestFile(file), 'not a manifest');
  fs.rmSync(file);
  fs.mkdirSync(file);
  assert.is(readManifestFile(file), 'not a regular file');
  fs.rmdirSync(file);
  // Opened without waiting for a writer: a blocking open would hang the test here.
  if (requireTool('mkfifo')) {
    assert.is(spawnSync('mkfifo', [file]).status, 0);
    assert.is(readManifestFile(file), 'not a regular file');
    fs.rmSync(file);
  }
  const server = net.createServer().listen(file);
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    assert.ok(fs.lstatSync(file).isSocket());
    assert.is(readManifestFile(file), 'not a regular file');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

// ---------------------------------------------------------------------------
// The tools over a 2M-extent manifest

const EXTENTS = 2_000_000;
const EXTENT = 4096;
/** Distinct extents behind them, spread over the index's buckets as a real pool's are. */
const STORED = 256;

interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  peakMiB: number;
}

/** Runs a built tool under /usr/bin/time: its exit, output and peak resident memory. */
function measured(name: string, args: string[]): Measured {
  const out = path.join(dir, 'time.out');
  const r = spawnSync(which('time')!, ['-f', '%M', '-o', out, process.execPath, cliPath(name), ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  const kb = Number(fs.readFileSync(out, 'utf8').trim().split('\n').pop());
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, peakMiB: kb / 1024 };
}

test('ls, status, scrub and repair of a 2M-extent manifest run in flat memory', () => {
  if (!requireTool('time')) return;
  const root = path.join(dir, 'pool');
  const disks = [0, 1, 2].map((i) => path.join(root, 'disks', `d${i}`));
  const create = cli('dfs-pool', ['create', '--pool', root, '--disks', '3', '--redundancy', 'mirror:2', '--extent-size', String(EXTENT)]);
  assert.is(create.status, 0, create.stderr);
  const input = path.join(dir, 'seed');
  fs.writeFileSync(input, randomBytes(STORED * EXTENT));
  const put = cli('dfs-pool', ['put', '--pool', root, input, 'huge']);
  assert.is(put.status, 0, put.stderr);
  // The stored extents named over and over: an 8 GB object whose manifest is ~170 MB, on every disk.
  const small = decoded(fs.readFileSync(manifestPath(disks[0], 'huge')));
  const list = new ExtentList();
  for (let i = 0; i < EXTENTS; i++) list.push(small.extents.id(i % STORED), EXTENT);
  const copy = encodeManifest({ ...small, size: EXTENTS * EXTENT, extents: list });
  for (const d of disks) fs.writeFileSync(manifestPath(d, 'huge'), copy);
  const copyMiB = copy.length / 2 ** 20;

  const ls = measured('dfs-pool', ['ls', '--pool', root]);
  assert.is(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`huge .*${EXTENTS}`));
  const status = measured('dfs-pool', ['status', '--pool', root]);
  assert.is(status.status, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`extents: +${STORED}\\b`));
  const scrub = measured('dfs-scrub', ['--pool', root, '--json']);
  assert.is(scrub.status, 0, `${scrub.stderr}\n${scrub.stdout.slice(0, 2000)}`);

  // One copy damaged: repair rewrites it from the others, byte for byte.
  const bad = Buffer.from(copy);
  bad[Math.floor(bad.length / 2)] ^= 0x20;
  fs.writeFileSync(manifestPath(disks[1], 'huge'), bad);
  const repair = measured('dfs-scrub', ['--pool', root, '--repair']);
  assert.is(repair.status, 1, `${repair.stderr}\n${repair.stdout.slice(0, 2000)}`);
  assert.ok(fs.readFileSync(manifestPath(disks[1], 'huge')).equals(copy), 'the rewritten copy is the others, byte for byte');

  const peaks = `ls ${ls.peakMiB.toFixed(0)} MiB, status ${status.peakMiB.toFixed(0)} MiB, scrub ${scrub.peakMiB.toFixed(0)} MiB, repair ${repair.peakMiB.toFixed(0)} MiB over a ${copyMiB.toFixed(0)} MiB manifest`;
  process.stdout.write(`\n  peak resident memory: ${peaks}\n`);
  // Node itself is ~50 MiB; the packed list is 72 MiB. Holding the text once would be 176 MiB more.
  assert.ok(ls.peakMiB < 120, `ls: ${peaks}`);
  for (const r of [status, scrub, repair]) assert.ok(r.peakMiB < 240, peaks);
});

test.run();
