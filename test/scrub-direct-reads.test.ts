// A cold deep pass reads its shard files around the page cache, with O_DIRECT
// (src/core/direct-reads.ts, checkRangeDirect). The reads themselves on
// loop-mounted ext4, xfs and btrfs with the page cache dropped: whole files,
// nothing left in the page cache (but on btrfs), what cannot be read so left to the
// buffered check; slots lent within their memory and all given back; ramfs,
// which has no O_DIRECT. And a slice checked so answers what checkRange
// answers, damage and all, however few slots it has.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cli, requireTool, scratchDir } from './helpers';
import { canUseLoopDevices, cleanupDrives, dropCaches, FsType, makeDrive, residentBytes } from './loop-drives';
import { DirectReads, MAX_DIRECT_FILE, SizedFile } from '../src/core/direct-reads';
import { ReadBuffer } from '../src/core/shard-file';
import { openPool, type Pool } from '../src/core/pool';
import { PREFIXES, extentsDir } from '../src/core/layout';
import { buildExtentIndex, removeExtentIndex } from '../src/scrub/extent-index';
import { listedDisks } from '../src/scrub/inventory';
import { checkRange, checkRangeDirect, RangeRequest, Walk } from '../src/scrub/range-check';
import { splitPrefix } from '../src/scrub/id-range';

const MiB = 2 ** 20;

/** Every shard file of the pool's disks. */
const shardFiles = (pool: Pool) =>
  pool.disks.flatMap((d) => {
    const top = extentsDir(d.path);
    return fs.readdirSync(top).flatMap((p) => fs.readdirSync(path.join(top, p)).map((n) => path.join(top, p, n)));
  });

/** Every file's outcome, taken in order and freed at once. */
async function readAll(reads: DirectReads, files: (SizedFile | undefined)[]): Promise<(Buffer | undefined)[]> {
  const batch = reads.start(files);
  const out: (Buffer | undefined)[] = [];
  for (let i = 0; i < files.length; i++) {
    const got = await batch.get(i);
    out.push(got && Buffer.from(got));
    batch.free(i);
  }
  await batch.close();
  return out;
}

test('cold files on ext4, xfs and btrfs read whole around the page cache; one longer than said shows it; what cannot be read directly is left to the caller', async () => {
  const kinds: FsType[] = ['ext4', 'xfs', 'btrfs'];
  if (!canUseLoopDevices('direct reads on real drives', kinds) || !requireTool('fincore')) return;
  const dir = scratchDir('dfs-direct-reads-');
  try {
    for (const kind of kinds) {
      const drive = makeDrive(dir, `d-${kind}`, kind);
      const at = (name: string) => path.join(drive.mountPoint, name);
      const sizes = [MiB + 128, 3 * 4096, 3 * 4096 - 1, 100, 0];
      const files = sizes.map((n, i) => {
        fs.writeFileSync(at(`f${i}`), randomBytes(n));
        return { path: at(`f${i}`), size: n };
      });
      fs.writeFileSync(at('big'), Buffer.alloc(MAX_DIRECT_FILE, 1));
      fs.symlinkSync(at('f0'), at('link'));
      execFileSync('mkfifo', [at('fifo')]);
      dropCaches();
      const reads = new DirectReads(8 * MiB, 3);
      const odd: SizedFile[] = [
        { path: at('f0'), size: MiB }, // the file is 128 bytes longer than said
        { path: at('big'), size: MAX_DIRECT_FILE },
        { path: at('absent'), size: 100 },
        { path: at('link'), size: MiB + 128 },
        { path: at('fifo'), size: 100 },
      ];
      const got = await readAll(reads, [...files, undefined, ...odd]);
      // Before the comparisons below read them through the page cache. btrfs here (Linux 6.18, data checksums)
      // serves a direct read through its page cache, as `dd iflag=direct` shows: the bytes are right all the same.
      if (kind !== 'btrfs') for (const f of files) assert.is(residentBytes(f.path), 0, `${kind}: ${path.basename(f.path)} left out of the page cache`);
      files.forEach((f, i) => assert.ok(got[i]?.equals(fs.readFileSync(f.path)), `${kind}: ${path.basename(f.path)} (${f.size} bytes) read whole`));
      assert.is(got[files.length], undefined, 'a file not asked for is not read');
      const [longer, big, absent, link, fifo] = got.slice(files.length + 1);
      assert.ok(longer && longer.length > MiB && longer.equals(fs.readFileSync(at('f0')).subarray(0, longer.length)), `${kind}: a file longer than said: more than said read`);
      assert.is(big, undefined, `${kind}: bigger than a slot takes`);
      assert.is(absent, undefined, `${kind}: missing`);
      assert.is(link, undefined, `${kind}: a symlink is not followed`);
      assert.is(fifo, undefined, `${kind}: a FIFO is not read`);
      assert.ok(reads.usable, `${kind}: a FIFO's refusal of O_DIRECT is the file's, not the filesystem's`);
      assert.is(reads.filesRead, files.length + 1);
      assert.is(reads.slots.out, 0, 'every slot given back');
    }
  } finally {
    cleanupDrives();
  }
});

test('slots: a file the held ones leave no room for is the caller\'s to read, the rest wait for room; a batch closed early waits for its reads and gives all back', async () => {
  const dir = scratchDir('dfs-direct-slots-');
  const files = Array.from({ length: 6 }, (_, i) => {
    const file = path.join(dir, `f${i}`);
    fs.writeFileSync(file, randomBytes(MiB));
    return { path: file, size: MiB };
  });
  // Two slots' worth: an extent of three files does not fit.
  const reads = new DirectReads(2 * (MiB + 4096), 4);
  const batch = reads.start(files);
  const first = await batch.get(0);
  if (!reads.usable) {
    assert.ok(process.env.CI !== 'true', `${dir} refuses O_DIRECT`);
    return void process.stderr.write(`\n*** SKIP: ${dir} refuses O_DIRECT\n`);
  }
  assert.ok(first?.equals(fs.readFileSync(files[0].path)), 'the first read directly');
  assert.ok((await batch.get(1))?.equals(fs.readFileSync(files[1].path)), 'the second read directly');
  assert.ok(reads.slots.out <= reads.slots.bytes, 'within the memory');
  assert.is(await batch.get(2), undefined, 'no room while the two are held: left to the caller, not waited for');
  batch.free(0);
  batch.free(1);
  for (let i = 3; i < 6; i++) {
    assert.ok((await batch.get(i))?.equals(fs.readFileSync(files[i].path)), `file ${i} read directly once there was room`);
    batch.free(i);
  }
  await batch.close();
  assert.is(reads.slots.out, 0, 'all given back');

  const early = reads.start(files);
  await early.close();
  assert.is(reads.slots.out, 0, 'closed with reads in flight: all given back once they ended');
  assert.is(await early.get(5), undefined, 'nothing started after the close');
});

test('where the filesystem refuses O_DIRECT (ramfs), nothing is read directly, and nothing is tried again', async () => {
  if (process.getuid?.() !== 0) {
    assert.ok(process.env.CI !== 'true', 'ramfs: mounting needs root');
    return void process.stderr.write('\n*** SKIP: ramfs: mounting needs root\n');
  }
  const mnt = scratchDir('dfs-direct-ramfs-');
  const m = spawnSync('mount', ['-t', 'ramfs', 'ramfs', mnt], { encoding: 'utf8' });
  assert.is(m.status, 0, `mount ramfs: ${m.stderr}`);
  try {
    const files = [0, 1].map((i) => {
      fs.writeFileSync(path.join(mnt, `f${i}`), Buffer.alloc(8192, i));
      return { path: path.join(mnt, `f${i}`), size: 8192 };
    });
    const reads = new DirectReads(MiB, 2);
    assert.equal(await readAll(reads, files), [undefined, undefined]);
    assert.is(reads.usable, false, 'known to refuse');
    assert.is(reads.filesRead, 0);
    assert.is(reads.slots.out, 0);
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('a slice checked from direct reads answers what checkRange answers: rot, cuts, growth, a missing shard, a symlink, a FIFO, an orphan, asked-for ids; with room for every file, for less than an extent, and probed', async () => {
  const dir = scratchDir('dfs-direct-range-');
  const root = path.join(dir, 'pool');
  const run = (name: string, args: string[]) => {
    const r = cli(name, args);
    assert.is(r.status, 0, `${name} ${args.join(' ')}: ${r.stderr}`);
  };
  run('dfs-pool', ['create', '--pool', root, '--disks', '6', '--redundancy', 'rs:4+2', '--extent-size', '4M']);
  const src = path.join(dir, 'obj');
  // Sixteen extents of 1 MiB shards, one of small ones (read ahead, not directly), and three mirror copies of 1 MiB.
  fs.writeFileSync(src, randomBytes(64 * MiB + 12345));
  run('dfs-pool', ['put', src, 'obj', '--pool', root]);
  fs.writeFileSync(src, randomBytes(MiB + 7));
  run('dfs-pool', ['put', src, 'mirrored', '--pool', root, '--redundancy', 'mirror:3']);
  const pool = openPool(root);
  const shards = shardFiles(pool);
  const [rot, cut, grown, gone, link, fifo] = shards.filter((_, i) => i % 17 === 3);
  const flip = fs.readFileSync(rot);
  flip[1000] ^= 1;
  fs.writeFileSync(rot, flip);
  fs.truncateSync(cut, fs.statSync(cut).size - 1);
  fs.appendFileSync(grown, 'x');
  fs.rmSync(gone);
  fs.renameSync(link, `${link}.target`);
  fs.symlinkSync(`${link}.target`, link);
  fs.rmSync(fifo);
  execFileSync('mkfifo', [fifo]);
  // An extent no manifest names, in a prefix with named ones.
  const orphan = path.join(path.dirname(cut), `${path.basename(cut).slice(0, 2)}${'e'.repeat(62)}.0`);
  fs.copyFileSync(shards[0], orphan);

  const index = buildExtentIndex(pool);
  const walk: Walk = { disks: listedDisks(pool), index: { dir: index.dir, schemes: index.schemes, packed: index.packed } };
  const buf = new ReadBuffer();
  const asked = path.basename(shards[1]).slice(0, 64);
  const observed: number[] = [];
  const probe = { chunk: 0, after: (bytes: number) => void observed.push(bytes) };
  try {
    // Some 95 files could be read directly (six of each rs extent, two in room for two). Most slices here hold one
    // extent: probed, that one is read the buffered way, so how many are left to read directly is chance.
    for (const [what, reads, probed, least] of [
      ['room for all', new DirectReads(16 * MiB, 4), false, 60],
      ['room for two files', new DirectReads(2 * (MiB + 4096), 2), false, 15],
      ['probed', new DirectReads(16 * MiB, 4), true, 0],
    ] as const) {
      let slices = 0;
      for (const prefix of PREFIXES) {
        for (const range of splitPrefix(prefix, prefix === asked.slice(0, 2) ? 3 : 1)) {
          const req: RangeRequest = { walk, range, after: '', strays: true, verbatim: prefix === asked.slice(0, 2) ? [asked] : [] };
          const want = checkRange(req, buf, undefined, 'deep', () => false);
          const got = await checkRangeDirect(req, buf, undefined, () => false, reads, probed ? probe : undefined);
          if (got === undefined) {
            // Nothing read: a slice with no named file of 1 MiB or more (none asked for verbatim) is checkRange's.
            const inSlice = shards.filter((f) => {
              const id = path.basename(f).slice(0, 64);
              return id.startsWith(prefix) && id >= range.lo && (range.hi === '' || id < range.hi) && id !== asked && f !== orphan;
            });
            assert.ok(inSlice.every((f) => !fs.lstatSync(f).isFile() || fs.lstatSync(f).size < MiB), `${what}: ${prefix} ${range.lo}..${range.hi} left to checkRange: ${inSlice.join(' ')}`);
            continue;
          }
          assert.equal(got, want, `${what}: ${prefix} ${range.lo}..${range.hi}`);
          if (want!.lastId) slices++;
        }
      }
      assert.ok(slices >= 12, `${what}: ${slices} slices with extents read directly`);
      assert.is(reads.slots.out, 0, `${what}: every slot given back`);
      if (!reads.usable) {
        assert.ok(process.env.CI !== 'true', `${dir} refuses O_DIRECT`);
        return void process.stderr.write(`\n*** SKIP: ${dir} refuses O_DIRECT: the slices were read the buffered way\n`);
      }
      assert.ok(reads.filesRead >= least, `${what}: ${reads.filesRead} files read directly`);
    }
    assert.ok(observed.length >= 12, `the probe timed the first extent of each probed slice: ${observed.length} reads`);
    const anyPrefix = path.basename(shards.find((f) => f !== orphan && fs.lstatSync(f).isFile() && fs.lstatSync(f).size > MiB)!).slice(0, 2);
    const stopped = await checkRangeDirect({ walk, range: { prefix: anyPrefix, lo: anyPrefix, hi: '' }, after: '', strays: false, verbatim: [] }, buf, undefined, () => true, new DirectReads(MiB, 2));
    assert.is(stopped, null, 'a stopped pass drops the slice');
  } finally {
    removeExtentIndex(index);
  }
});

test('files too big to be read directly are named to `ahead` before their slice is checked, and judged the buffered way; a slice with none to read directly is left to checkRange', async () => {
  const dir = scratchDir('dfs-direct-big-');
  const root = path.join(dir, 'pool');
  for (const args of [
    ['create', '--pool', root, '--disks', '2', '--redundancy', 'mirror:2', '--extent-size', '32M'],
    ['put', path.join(dir, 'obj'), 'obj', '--pool', root],
  ]) {
    if (args[0] === 'put') fs.writeFileSync(args[1], randomBytes(33 * MiB));
    const r = cli('dfs-pool', args);
    assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: ${r.stderr}`);
  }
  const pool = openPool(root);
  const index = buildExtentIndex(pool);
  const walk: Walk = { disks: listedDisks(pool), index: { dir: index.dir, schemes: index.schemes, packed: index.packed } };
  const buf = new ReadBuffer();
  const reads = new DirectReads(16 * MiB, 4);
  const heard: string[] = [];
  const leftToCheckRange: string[] = [];
  try {
    for (const prefix of PREFIXES) {
      const req: RangeRequest = { walk, range: { prefix, lo: prefix, hi: '' }, after: '', strays: false, verbatim: [] };
      const got = await checkRangeDirect(req, buf, undefined, () => false, reads, undefined, (files) => heard.push(...files));
      // Undefined: no file of the slice is for direct reads, and checkRange (its files read ahead) checks it.
      if (got === undefined) leftToCheckRange.push(prefix);
      else assert.equal(got, checkRange(req, buf, undefined, 'deep', () => false), prefix);
    }
  } finally {
    removeExtentIndex(index);
  }
  const big = shardFiles(pool).filter((f) => fs.statSync(f).size > MAX_DIRECT_FILE);
  assert.is(big.length, 2, 'two copies of the 32 MiB extent');
  // Named ahead where a slice holds them beside the 1 MiB extent (one prefix in 256), else checked by checkRange.
  const aheadOf = (f: string) => (leftToCheckRange.includes(path.basename(f).slice(0, 2)) ? [] : [f]);
  assert.equal(heard.sort(), big.flatMap(aheadOf).sort(), 'the big files in slices read directly, and only they, named ahead');
  assert.is(leftToCheckRange.length, 255, 'every slice but the one of the 1 MiB extent left to checkRange');
  if (reads.usable) assert.is(reads.filesRead, 2, 'the two copies of the 1 MiB extent read directly');
});

test.run();
