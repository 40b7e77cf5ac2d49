// How a repair's shards reach the disk: a big one's blocks with O_DIRECT from
// page-aligned memory (none of it left in the page cache, its check given the
// memory it was written from), a small one through the page cache (its check
// given it read back), and a big one through the page cache where the
// filesystem refuses O_DIRECT (ramfs); shared slots a verify thread lends out,
// written from as they are.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BufferPool } from '../src/core/buffer-pool';
import { alignUp, mapAligned } from '../src/core/aligned-memory';
import { ShardWrite, writeShardFiles } from '../src/core/shard-file';
import { SharedSlots } from '../src/core/shared-slots';
import { requireTool, scratchDir } from './helpers';
import { canUseLoopDevices, cleanupDrives, FsType, makeDrive, residentBytes } from './loop-drives';

const KiB = 1024;
const TMPFS_MAGIC = 0x01021994;

function shardWrites(dir: string, sizes: number[]): ShardWrite[] {
  return sizes.map((n, i) => {
    const payload = Buffer.alloc(n);
    for (let j = 0; j < n; j += 4096) payload.writeUInt32LE((j * 2654435761 + i) >>> 0, j);
    return { file: path.join(dir, `cd${i}.${i}`), header: Buffer.alloc(128, 9 + i), payload };
  });
}

/** The write as a verify thread hands it over: header and payload in one slot of `slots`, written from there. */
function inSlot(slots: SharedSlots, w: ShardWrite): ShardWrite {
  const size = w.header.length + w.payload.length;
  const at = slots.take(size);
  assert.ok(at >= 0, 'a free slot');
  const slot = Buffer.from(slots.memory!, at, alignUp(size));
  w.header.copy(slot, 0);
  w.payload.copy(slot, w.header.length);
  return { file: w.file, header: slot.subarray(0, w.header.length), payload: slot.subarray(w.header.length, size), aligned: slot };
}

/** Writes them; the bytes each check got. */
async function writeChecked(writes: ShardWrite[]): Promise<Buffer[]> {
  const checked: Buffer[] = [];
  const errors = await writeShardFiles(writes, undefined, (i, written) => {
    checked[i] = Buffer.from(written);
    return undefined;
  });
  assert.equal(errors, writes.map(() => undefined));
  return checked;
}

function assertWritten(writes: ShardWrite[], checked: Buffer[]): void {
  for (const [i, w] of writes.entries()) {
    const want = Buffer.concat([w.header, w.payload]);
    assert.ok(fs.readFileSync(w.file).equals(want), `${path.basename(w.file)} holds header and payload`);
    assert.ok(checked[i].equals(want), `${path.basename(w.file)} checked whole`);
    assert.is(fs.statSync(w.file).mode & 0o777, 0o644);
  }
  assert.equal(fs.readdirSync(path.dirname(writes[0].file)).filter((n) => n.startsWith('.')), [], 'no temp file left');
}

test('a big shard is written around the page cache, a small one through it; each checked whole', async () => {
  const dir = path.join(scratchDir('dfs-shard-write-'), 'cd');
  fs.mkdirSync(dir);
  const writes = shardWrites(dir, [256 * KiB, 1024 * KiB + 8, 4 * KiB]);
  assertWritten(writes, await writeChecked(writes));
  if (!requireTool('fincore')) return;
  if (fs.statfsSync(dir).type === TMPFS_MAGIC) return void process.stderr.write(`\n*** SKIP: ${dir} is on tmpfs, all page cache: set TMPDIR to a disk to see O_DIRECT\n`);
  // Fresh names, never read by the test: fincore sees only what the writes left.
  const again = shardWrites(dir, [256 * KiB, 1024 * KiB + 8, 4 * KiB]).map((w, i) => ({ ...w, file: path.join(dir, `ef${i}.${i}`) }));
  await writeChecked(again);
  // The last part block of a big shard goes through the page cache; its whole blocks never do.
  assert.ok(residentBytes(again[0].file) <= 4096, `256 KiB shard: ${residentBytes(again[0].file)} bytes in the page cache`);
  assert.ok(residentBytes(again[1].file) <= 4096, `1 MiB shard: ${residentBytes(again[1].file)} bytes in the page cache`);
  assert.is(residentBytes(again[2].file), 8192, 'the small shard is in the page cache, as written');
});

test('on loop-mounted ext4, xfs and btrfs drives, a big shard goes around the page cache, whole and as written', async () => {
  const kinds: FsType[] = ['ext4', 'xfs', 'btrfs'];
  if (!canUseLoopDevices('O_DIRECT shard writes on real drives', kinds) || !requireTool('fincore')) return;
  const dir = scratchDir('dfs-shard-write-drives-');
  try {
    for (const kind of kinds) {
      const drive = makeDrive(dir, kind, kind);
      const shards = path.join(drive.mountPoint, 'extents', 'cd');
      fs.mkdirSync(shards, { recursive: true });
      const writes = shardWrites(shards, [256 * KiB, 1024 * KiB + 8]);
      assertWritten(writes, await writeChecked(writes));
      const fresh = shardWrites(shards, [256 * KiB, 1024 * KiB + 8]).map((w, i) => ({ ...w, file: path.join(shards, `ef${i}.${i}`) }));
      await writeChecked(fresh);
      for (const w of fresh) assert.ok(residentBytes(w.file) <= 4096, `${kind}: ${path.basename(w.file)} has ${residentBytes(w.file)} bytes in the page cache`);
      // As a repair writes them: from a verify thread's shared slots, as they are.
      const slots = new SharedSlots(4 * 1024 * KiB);
      const plain = shardWrites(shards, [256 * KiB + 100, 1024 * KiB]).map((w, i) => ({ ...w, file: path.join(shards, `ab${i}.${i}`) }));
      const slotted = plain.map((w) => inSlot(slots, w));
      await writeChecked(slotted);
      for (const w of slotted) assert.ok(residentBytes(w.file) <= 4096, `${kind}: ${path.basename(w.file)} from a slot has ${residentBytes(w.file)} bytes in the page cache`);
      assertWritten(plain, plain.map((w) => Buffer.concat([w.header, w.payload])));
      slotted.forEach((w, i) => assert.ok(w.aligned!.subarray(0, w.header.length + w.payload.length).equals(Buffer.concat([plain[i].header, plain[i].payload])), `${kind}: slot ${i} left as it was`));
    }
  } finally {
    cleanupDrives();
  }
});

test('where the filesystem refuses O_DIRECT (ramfs), big shards go whole through the page cache', async () => {
  if (process.getuid?.() !== 0) return void process.stderr.write('\n*** SKIP: ramfs: mounting needs root\n');
  const mnt = scratchDir('dfs-shard-ramfs-');
  const m = spawnSync('mount', ['-t', 'ramfs', 'ramfs', mnt], { encoding: 'utf8' });
  assert.is(m.status, 0, `mount ramfs: ${m.stderr}`);
  try {
    const dir = path.join(mnt, 'disk', 'extents', 'cd');
    fs.mkdirSync(dir, { recursive: true });
    const writes = shardWrites(dir, [256 * KiB, 512 * KiB + 64]);
    assertWritten(writes, await writeChecked(writes));
    // The disk is known to refuse it by now: the next big write goes straight through the page cache.
    const more = shardWrites(dir, [128 * KiB]).map((w) => ({ ...w, file: path.join(dir, 'cd9.0') }));
    assertWritten(more, await writeChecked(more));
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('aligned buffers: page-aligned, reused, and a taker past the budget waits for one to come back', async () => {
  const dir = scratchDir('dfs-aligned-');
  const pool = new BufferPool(256 * KiB, mapAligned, 50);
  const a = (await pool.take(100 * KiB))!;
  const b = (await pool.take(100 * KiB))!;
  assert.is(a.length, 128 * KiB, 'whole 64 KiB pages');
  let third: Buffer | undefined;
  const waiting = pool.take(100 * KiB).then((c) => (third = c));
  await new Promise((r) => setTimeout(r, 20));
  assert.is(third, undefined, 'past the budget: waits');
  pool.give(a);
  await waiting;
  assert.is(third, a, 'the one given back');
  pool.give(b);
  pool.give(third!);
  // Page-aligned: an O_DIRECT read into its first byte is accepted (a misaligned one is refused with EINVAL).
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, Buffer.alloc(8192, 3));
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    return void process.stderr.write(`\n*** SKIP: ${dir} refuses O_DIRECT: alignment not proven\n`);
  }
  try {
    const c = (await pool.take(8192))!;
    assert.is(fs.readSync(fd, c, 0, 8192, 0), 8192);
    assert.is(c[8191], 3);
    assert.throws(() => fs.readSync(fd, c, 16, 4096, 0), /EINVAL/);
    pool.give(c);
  } finally {
    fs.closeSync(fd);
  }
});

test('tryTake: within the budget as take is; past it, undefined at once; a buffer given back is lent again, one too small dropped to make room', () => {
  const made: number[] = [];
  const pool = new BufferPool(256 * KiB, (size) => (made.push(size), Buffer.alloc(size)), 50);
  const a = pool.tryTake(100 * KiB)!;
  const b = pool.tryTake(100 * KiB)!;
  assert.ok(a && b, 'within the budget');
  assert.is(pool.tryTake(100 * KiB), undefined, 'past the budget: none, without waiting');
  pool.give(a);
  assert.is(pool.tryTake(100 * KiB), a, 'the one given back');
  pool.give(a);
  pool.give(b);
  // Both back, 200 KiB held: one of 200 KiB fits only if a too-small one goes.
  const c = pool.tryTake(200 * KiB)!;
  assert.is(c.length, 200 * KiB);
  assert.equal(made, [100 * KiB, 100 * KiB, 200 * KiB]);
  assert.is(pool.tryTake(100 * KiB), undefined, 'the other 100 KiB one went too: c and it would pass the budget');
  pool.give(c);
});

test('shared slots: page-aligned offsets of whole pages, none past the memory, given back and joined into bigger ones', () => {
  const slots = new SharedSlots(256 * KiB);
  assert.is(slots.memory, undefined, 'nothing mapped before the first take');
  const a = slots.take(100);
  const b = slots.take(4096 + 1);
  const c = slots.take(64 * KiB);
  assert.equal([a, b, c], [0, 4096, 3 * 4096], 'first fit, each a whole number of pages');
  assert.ok(slots.memory instanceof SharedArrayBuffer);
  assert.is(slots.memory!.byteLength, 256 * KiB);
  assert.is(slots.out, 4096 + 8192 + 64 * KiB);
  assert.is(slots.take(256 * KiB), -1, 'none free that big');
  const rest = slots.take(256 * KiB - slots.out);
  assert.is(rest, 3 * 4096 + 64 * KiB, 'the rest, to the last byte');
  assert.is(slots.take(1), -1, 'all lent out');
  slots.give(b);
  slots.give(b);
  assert.is(slots.take(8192), 4096, 'given back (twice: counted once) and lent again');
  for (const at of [4096, a, rest, c]) slots.give(at);
  slots.give(12345);
  assert.is(slots.out, 0, 'an offset never lent is ignored');
  assert.is(slots.take(256 * KiB), 0, 'neighbours joined: the whole memory in one slot again');
});

test('a shard file in a shared slot is written from it as it is, checked there, whole and as meant; the slot left as it was', async () => {
  const dir = path.join(scratchDir('dfs-slot-write-'), 'ef');
  fs.mkdirSync(dir);
  const slots = new SharedSlots(2 * 1024 * KiB);
  const [w] = shardWrites(dir, [256 * KiB + 1000]);
  const size = 128 + w.payload.length;
  const inPlace = inSlot(slots, w);
  const slot = inPlace.aligned!;
  const want = Buffer.concat([w.header, w.payload]);
  let checked: Buffer | undefined;
  const errors = await writeShardFiles([inPlace], undefined, (_i, got) => {
    checked = Buffer.from(got);
    // The memory the write went out from, not a copy: what is proven is what was written.
    assert.is(got.buffer, slots.memory, 'checked in the slot itself');
    assert.is(got.byteOffset, slot.byteOffset, 'from its start');
    return undefined;
  });
  assert.equal(errors, [undefined]);
  assert.ok(slot.subarray(0, size).equals(want), 'the slot left as it was');
  assert.ok(checked!.equals(want), 'checked whole');
  // Before anything reads the file into the page cache.
  if (fs.statfsSync(dir).type === TMPFS_MAGIC) process.stderr.write(`\n*** SKIP: ${dir} is on tmpfs: that the slot went around the page cache is not proven\n`);
  else assert.ok(residentBytes(w.file) <= 4096, `around the page cache but for its last part page: ${residentBytes(w.file)} bytes resident`);
  assert.ok(fs.readFileSync(w.file).equals(want), 'the file holds header and payload');
});

test.run();
