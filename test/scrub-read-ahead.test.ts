// A verify thread that finds its reads coming from the device has the main
// thread read its next files ahead (src/scrub/prefetch.ts). Its judgement of
// cold and warm, by the reads' own times; and the fetch itself, on a real
// ext4 drive with the page cache dropped, as fincore sees the files after it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool, scratchDir } from './helpers';
import { canUseLoopDevices, cleanupDrives, dropCaches, makeDrive, residentBytes } from './loop-drives';
import { fetchAhead, readAheadDir, ReadSpeed } from '../src/scrub/prefetch';
import { readsDirectly } from '../src/core/direct-reads';

const MiB = 2 ** 20;

/**
 * The files seen whole in the page cache within `ms`, each counted once it
 * was: the kernel may reclaim a fresh page a moment later under another
 * tenant's pressure, and that is not the fetch's doing.
 */
async function seenWhole(files: string[], ms = 15_000): Promise<Set<string>> {
  const whole = new Set<string>();
  const until = Date.now() + ms;
  for (;;) {
    for (const f of files) if (!whole.has(f) && residentBytes(f) >= fs.statSync(f).size) whole.add(f);
    if (whole.size === files.length || Date.now() >= until) return whole;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function judged(reads: number, bytes: number, msEach: number): boolean {
  const s = new ReadSpeed();
  for (let i = 0; i < reads; i++) s.observe(bytes, msEach);
  s.settle();
  return s.cold;
}

test('reads from memory are warm, from the device cold, for big and small files alike', () => {
  assert.is(judged(8, MiB, 0.15), false, '1 MiB in 0.15 ms: 7 GB/s, the page cache');
  assert.is(judged(8, MiB, 1.1), true, '1 MiB in 1.1 ms: 0.95 GB/s, a device');
  assert.is(judged(64, 4096, 0.003), false, '4 KiB in 3 us: a syscall, the page cache');
  assert.is(judged(64, 4096, 0.2), true, '4 KiB in 200 us: a device');
});

test('no judgement before enough reads; a judgement stands until the next', () => {
  const s = new ReadSpeed();
  for (let i = 0; i < 3; i++) s.observe(64 * 1024, 5);
  s.settle();
  assert.is(s.cold, false, 'three small reads say nothing yet');
  for (let i = 0; i < 16; i++) s.observe(64 * 1024, 5);
  s.settle();
  assert.is(s.cold, true, 'nineteen slow reads: cold');
  s.observe(64 * 1024, 0.01);
  s.settle();
  assert.is(s.cold, true, 'one fast read does not overturn it');
  for (let i = 0; i < 16; i++) s.observe(MiB, 0.1);
  s.settle();
  assert.is(s.cold, false, 'a slice read from memory: warm again');
});

test('warm, a minority of slow reads (a preempted thread, a fresh buffer faulted in) does not make a pass cold; cold, reads fetched ahead keep it cold until the total is fast', () => {
  const s = new ReadSpeed();
  for (let i = 0; i < 4; i++) s.observe(MiB, i === 0 ? 8 : 0.15);
  s.settle();
  assert.is(s.cold, false, 'four warm reads of 1 MiB, the first held up 8 ms: still warm (the total alone would say 0.5 GB/s)');
  for (let i = 0; i < 16; i++) s.observe(MiB, i % 2 === 0 ? 1.5 : 0.15);
  s.settle();
  assert.is(s.cold, false, 'half the reads slow: not yet most');
  for (let i = 0; i < 16; i++) s.observe(MiB, i < 9 ? 1.5 : 0.15);
  s.settle();
  assert.is(s.cold, true, 'nine of sixteen slow: cold');
  for (let i = 0; i < 16; i++) s.observe(MiB, i < 4 ? 6 : 0.15);
  s.settle();
  assert.is(s.cold, true, 'most reads found fetched data, a few waited on the device: the total is still the device\'s');
  for (let i = 0; i < 16; i++) s.observe(MiB, i < 1 ? 1 : 0.15);
  s.settle();
  assert.is(s.cold, false, 'the total is memory\'s: warm again');
});

test('fetchAhead brings cold files into the page cache, all of each, or all but those the threads read directly; a missing file or a directory is passed over; readAheadDir a directory\'s files', async () => {
  if (!canUseLoopDevices('read-ahead on a real drive', ['ext4']) || !requireTool('fincore')) return;
  const dir = scratchDir('dfs-read-ahead-');
  try {
    const drive = makeDrive(dir, 'd0', 'ext4', 64);
    const files = Array.from({ length: 8 }, (_, i) => {
      const f = path.join(drive.mountPoint, `f${i}`);
      // Sizes around the fetch's 4 MiB scratch: smaller, equal, larger.
      fs.writeFileSync(f, Buffer.alloc([MiB, 4 * MiB, 5 * MiB + 7, 128][i % 4], i + 1));
      return f;
    });
    dropCaches();
    assert.equal(files.map(residentBytes), files.map(() => 0), 'cold before');
    fetchAhead([...files, path.join(drive.mountPoint, 'absent'), drive.mountPoint]);
    // fincore counts whole pages: a file is in memory when its pages cover its size.
    const fetched = await seenWhole(files);
    for (const f of files) assert.ok(fetched.has(f), `${f}: ${residentBytes(f)} of ${fs.statSync(f).size} bytes in the page cache after fetchAhead`);

    // Leaving out what the threads read directly (1 to 16 MiB): the smaller and the bigger ones only.
    const big = path.join(drive.mountPoint, 'big');
    fs.writeFileSync(big, Buffer.alloc(17 * MiB, 9));
    const all = [...files, big];
    dropCaches();
    fetchAhead(all, readsDirectly);
    const read = all.filter((f) => !readsDirectly(fs.statSync(f).size));
    assert.ok(read.length === 3 && read.includes(big), `the 128-byte files and the 17 MiB one are read: ${read}`);
    const readAhead = await seenWhole(read);
    await new Promise((r) => setTimeout(r, 200));
    for (const f of all) {
      const size = fs.statSync(f).size;
      if (read.includes(f)) assert.ok(readAhead.has(f), `${f}: ${size} bytes, read ahead (${residentBytes(f)} in the page cache now)`);
      else assert.is(residentBytes(f), 0, `${f}: ${size} bytes, read directly by the threads, left alone`);
    }

    // A directory read ahead: its files, not the temp files a writer leaves (names starting with a dot).
    const sub = path.join(drive.mountPoint, 'ab');
    fs.mkdirSync(sub);
    const inSub = [0, 1, 2].map((i) => path.join(sub, `s${i}`));
    inSub.forEach((f, i) => fs.writeFileSync(f, Buffer.alloc(MiB + i, 9)));
    const temp = path.join(sub, '.tmp-1-1-x-s9');
    fs.writeFileSync(temp, Buffer.alloc(MiB, 1));
    dropCaches();
    readAheadDir(sub);
    const listed = await seenWhole(inSub);
    inSub.forEach((f) => assert.ok(listed.has(f), `${f} in the page cache after readAheadDir`));
    assert.is(residentBytes(temp), 0, 'a temp file is not read ahead');
  } finally {
    cleanupDrives();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
