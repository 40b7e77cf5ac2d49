// A pass proves a healthy extent by comparing bytes (checkExtent's quick
// proof) and judges file by file only what fails it. The two must never
// disagree: for real shard files, healthy and damaged every way a header, a
// payload, a size, a name or a file type can be, at both depths, checkExtent
// answers exactly what the full judgement (verifyExtent, packed) answers; and
// so does the deep proof over files read directly, as a cold pass reads them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { scratchDir } from './helpers';
import { extentsDir } from '../src/core/layout';
import { checksum64 } from '../src/core/hash';
import { shardPayloadLength } from '../src/core/erasure';
import { parseScheme, shardCount } from '../src/core/scheme';
import { ReadBuffer, shardHeaderFor } from '../src/core/shard-file';
import { ExtentPlan } from '../src/scrub/inventory';
import { checkExtent, Depth, packVerdict, ReadAlready, soundFileSize, verifyExtent } from '../src/scrub/verify';
import { DirectReads } from '../src/core/direct-reads';

const DISKS = 4;
const buf = new ReadBuffer();
let seed = 7;
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
const idOf = (n: number) => n.toString(16).padStart(8, '0').repeat(8);

/** Writes one extent's shards, shard i on disk i, and returns its plan as a walk would list it. */
function writeExtent(root: string, schemeText: string, length: number, id: string): ExtentPlan {
  const scheme = parseScheme(schemeText);
  const files = Array.from({ length: shardCount(scheme) }, (_, i) => {
    const dir = path.join(extentsDir(path.join(root, `d${i}`)), id.slice(0, 2));
    fs.mkdirSync(dir, { recursive: true });
    const payload = randomBytes(shardPayloadLength(scheme, length));
    const file = `${dir}/${id}.${i}`;
    fs.writeFileSync(file, Buffer.concat([shardHeaderFor(id, i, scheme, length, payload), payload]));
    return { index: i, disk: i, path: file, regular: true };
  });
  return { id, scheme: schemeText, length, files };
}

/** The file kinds as readdir's d_type would give them. */
const relisted = (plan: ExtentPlan): ExtentPlan => ({
  ...plan,
  files: plan.files.map((f) => {
    const st = fs.lstatSync(f.path, { throwIfNoEntry: false });
    return st?.isFile() ? { ...f, regular: true } : { index: f.index, disk: f.disk, path: f.path };
  }),
});

const outcomes = { quick: 0, judged: 0 };

/** Direct reads of a cold pass (see DirectReads): a slot for every file of any extent here. */
const direct = new DirectReads(4 * 2 ** 20, 3);

/** The plan's files as a cold deep pass reads them ahead, directly: each its first size + 1 bytes, or undefined. */
async function readDirectly(plan: ExtentPlan): Promise<{ read: ReadAlready; done: () => Promise<void> }> {
  const size = soundFileSize(plan);
  const batch = direct.start(plan.files.map((f) => (size >= 0 && f.regular ? { path: f.path, size } : undefined)));
  const read: ReadAlready = [];
  for (let i = 0; i < plan.files.length; i++) read.push(await batch.get(i));
  return { read, done: () => batch.close() };
}

async function agree(plan: ExtentPlan, what: string): Promise<void> {
  for (const depth of ['light', 'deep'] as Depth[]) {
    const quick = checkExtent(plan, buf, undefined, depth);
    const full = packVerdict(plan, verifyExtent(plan, buf, undefined, depth));
    assert.equal(quick, full, `${what} (${depth})`);
    outcomes[typeof quick === 'number' ? 'quick' : 'judged']++;
    if (depth === 'light') continue;
    // The same proof over the files read directly, as a cold pass makes it: what was not read so is read here.
    const { read, done } = await readDirectly(plan);
    try {
      assert.equal(checkExtent(plan, buf, undefined, depth, read), full, `${what} (deep, read directly)`);
    } finally {
      await done();
    }
  }
}

function patch(file: string, at: number, bytes: Buffer, fixHeaderChecksum: boolean): void {
  const data = fs.readFileSync(file);
  bytes.copy(data, at);
  if (fixHeaderChecksum) data.writeBigUInt64LE(checksum64(data.subarray(0, 120)), 120);
  fs.writeFileSync(file, data);
}

for (const [schemeText, length] of [['rs:2+1', 10_000], ['mirror:3', 5000], ['rs:3+2', 1]] as const) {
  test(`${schemeText}, ${length} bytes: the quick proof and the full judgement agree on every damage, files read directly or not`, async () => {
    const root = scratchDir('dfs-quick-proof-');
    let n = 0;
    const fresh = () => writeExtent(root, schemeText, length, idOf(++n));
    const shards = shardCount(parseScheme(schemeText));

    await agree(fresh(), 'healthy');
    for (let at = 0; at < 128; at++) {
      for (const fix of [false, true]) {
        const plan = fresh();
        const f = plan.files[at % shards].path;
        patch(f, at, Buffer.from([fs.readFileSync(f)[at] ^ (1 << (at % 8))]), fix && at < 120);
        await agree(plan, `header byte ${at} flipped${fix ? ', header checksum recomputed' : ''}`);
      }
    }
    {
      const plan = fresh();
      const f = plan.files[0].path;
      patch(f, 128, Buffer.from([fs.readFileSync(f)[128] ^ 1]), false);
      await agree(plan, 'payload rot');
    }
    for (const size of [0, 127, 128, -1, +1]) {
      const plan = fresh();
      const f = plan.files[1].path;
      const full = fs.statSync(f).size;
      fs.truncateSync(f, size === -1 ? full - 1 : size === 1 ? full + 1 : size);
      await agree(plan, `shard 1 cut or grown to ${size}`);
    }
    {
      const plan = fresh();
      fs.rmSync(plan.files[1].path);
      await agree({ ...plan, files: plan.files.filter((f) => f.index !== 1) }, 'shard 1 missing');
      await agree(plan, 'shard 1 listed but gone');
    }
    {
      const plan = fresh();
      const dir = path.join(extentsDir(path.join(root, `d${DISKS - 1}`)), plan.id.slice(0, 2));
      fs.mkdirSync(dir, { recursive: true });
      const copy = `${dir}/${plan.id}.0`;
      fs.copyFileSync(plan.files[0].path, copy);
      await agree({ ...plan, files: [...plan.files, { index: 0, disk: DISKS - 1, path: copy, regular: true }] }, 'a second copy of shard 0');
      // As many files as shards, but shard 0 twice and the last one absent.
      await agree({ ...plan, files: [...plan.files.slice(0, -1), { index: 0, disk: DISKS - 1, path: copy, regular: true }] }, 'shard 0 twice, one missing');
    }
    {
      const plan = fresh();
      fs.copyFileSync(plan.files[0].path, plan.files[1].path);
      await agree(plan, "shard 0's file under shard 1's name");
      const other = fresh();
      fs.copyFileSync(other.files[0].path, plan.files[0].path);
      await agree(plan, "another extent's shard under this one's name");
    }
    {
      const plan = fresh();
      const last = plan.files[shards - 1];
      const beyond = last.path.replace(/\.\d+$/, `.${shards}`);
      fs.renameSync(last.path, beyond);
      await agree({ ...plan, files: [...plan.files.slice(0, -1), { ...last, index: shards, path: beyond }] }, 'a shard named beyond the scheme');
    }
    {
      const plan = fresh();
      const f = plan.files[0].path;
      fs.renameSync(f, `${f}.target`);
      fs.symlinkSync(`${f}.target`, f);
      await agree(relisted(plan), 'a symlink in place of shard 0');
      await agree(plan, 'a symlink in place of shard 0, listed as a regular file (a swap after the listing)');
      fs.rmSync(f);
      execFileSync('mkfifo', [f]);
      await agree(relisted(plan), 'a FIFO in place of shard 0');
      await agree(plan, 'a FIFO in place of shard 0, listed as a regular file');
      fs.rmSync(f);
      fs.mkdirSync(f);
      await agree(relisted(plan), 'a directory in place of shard 0');
    }
    await agree({ ...fresh(), scheme: undefined, length: undefined }, 'an extent no manifest names');
    const manifestSays = fresh();
    await agree({ ...manifestSays, length: length + 1 }, 'a manifest that gives another length');
    await agree({ ...manifestSays, scheme: schemeText.startsWith('rs') ? 'mirror:2' : 'rs:2+1' }, 'a manifest that gives another scheme');
  });
}

test('both ways were taken: healthy extents proven quickly, damaged ones judged; files read directly, every slot back', () => {
  assert.ok(outcomes.quick > 50, `quick proofs: ${outcomes.quick}`);
  assert.ok(outcomes.judged > 500, `full judgements: ${outcomes.judged}`);
  assert.ok(direct.usable || process.env.CI !== 'true', `${os.tmpdir()} refuses O_DIRECT`);
  if (!direct.usable) return void process.stderr.write(`\n*** SKIP: ${os.tmpdir()} refuses O_DIRECT: the checks over direct reads took the buffered way\n`);
  assert.ok(direct.filesRead > 500, `files read directly: ${direct.filesRead}`);
  assert.is(direct.slots.out, 0, 'slots lent out after every batch closed');
});

test.run();
