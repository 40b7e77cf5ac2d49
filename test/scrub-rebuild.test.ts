// A repair's big shards: what a verify thread hands over of a rebuilt extent
// (each broken shard's payload, nothing more), rebuilt from sources already in
// its codec buffer (copied out of direct reads), shards of 256 KiB written with
// O_DIRECT and proven like any other, and a broken shard whose payload
// never came is reported failed, with nothing written in its place.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { openPool } from '../src/core/pool';
import { checkShardBytes, writeShardFiles } from '../src/core/shard-file';
import { scratchDir } from './helpers';
import { brokenBytes, brokenShardFiles, isImage, rebuildExtent, RebuiltShard, scratchBytes, ShardImage, SlotRef, sourcesInPlace } from '../src/scrub/rebuild';
import { SharedSlots } from '../src/core/shared-slots';
import { alignUp } from '../src/core/aligned-memory';
import { diskQuarantineDir, extentsDir } from '../src/core/layout';
import { VerifyWorkers } from '../src/scrub/workers';
import type { ExtentPlan } from '../src/scrub/inventory';
import { repairExtents } from '../src/scrub/repair';
import type { ExtentVerdict, ShardResult } from '../src/scrub/verify';
import { assertAudited, assertObjectsIntact, assertRestored, clonePool, Fixture, flipBit, makePool, readManifests, scrubExpect, shardsOfExtent } from './scrub-fixtures.test';

const KiB = 1024;

/** rs:4+2 over 1 MiB extents: shards of 256 KiB, past the size written with O_DIRECT. */
const big = makePool({ extentSize: '1M', objects: [{ name: 'big', size: 3 * 1024 * KiB + 4321 }] });

/** An extent's verdict as a verify pass gives it, with the shards at `broken` missing. */
function verdictWith(fx: Fixture, id: string, broken: number[]): ExtentVerdict {
  const length = readManifests(fx.pool).get('big')!.extents.find((e) => e.id === id)!.length;
  const shards: ShardResult[] = shardsOfExtent(fx, id).map((s) => ({ index: s.index, path: s.path, ...(broken.includes(s.index) ? { disk: -1, status: 'missing' as const } : { disk: s.disk, status: 'ok' as const }) }));
  return { id, scheme: 'rs:4+2', length, health: 'degraded', valid: shards.filter((s) => s.status === 'ok').map((s) => s.index), shards, bytesRead: 0 };
}

test('a rebuilt extent crosses as its broken shards\' payloads only, each in memory of its own', async () => {
  const fx = clonePool(big);
  const id = fx.objects[0].extents[0];
  const v = verdictWith(fx, id, [1, 4]);
  for (const i of [1, 4]) fs.rmSync(shardsOfExtent(fx, id)[i].path);
  const full = await rebuildExtent(v);
  assert.is(full.length, 6);
  const kept = brokenShardFiles(v, full);
  assert.ok(Array.isArray(kept));
  const payloads = kept as (Buffer | undefined)[];
  assert.equal(payloads.map((p) => p !== undefined), [false, true, false, false, true, false], 'shards 1 and 4 only');
  for (const i of [1, 4]) {
    assert.ok(payloads[i]!.equals(full[i]), `shard ${i}: the rebuilt bytes`);
    assert.is.not(payloads[i]!.buffer, full[i].buffer, `shard ${i}: not a view of the codec's buffer (which holds all six)`);
  }
  assert.is(brokenBytes(v), 2 * 256 * KiB, 'the budget counts what crosses');
  assert.is(brokenShardFiles(v, 'cannot rebuild: x'), 'cannot rebuild: x', 'a reason crosses as it is');
});

test('with shared slots, a broken shard crosses as its whole file in one (header made of the proven payload), in a buffer of its own once they are all lent', async () => {
  const fx = clonePool(big);
  const ids = fx.objects[0].extents.slice(0, 2);
  const slots = new SharedSlots(3 * (256 + 4) * KiB);
  const sent = await Promise.all(ids.map(async (id) => {
    const v = verdictWith(fx, id, [1, 4]);
    return { v, full: await rebuildExtent(v) };
  }));
  const crossed = sent.map(({ v, full }) => brokenShardFiles(v, full, slots) as (Buffer | SlotRef | undefined)[]);
  const refs = crossed.flatMap((c) => c.filter((x): x is SlotRef => !!x && !Buffer.isBuffer(x)));
  assert.is(refs.length, 3, 'three fit in the slots');
  assert.ok(Buffer.isBuffer(crossed[1][4]), 'the fourth is a copy of its payload');
  assert.ok((crossed[1][4] as Buffer).equals(sent[1].full[4]));
  for (const [k, { v, full }] of sent.entries()) {
    for (const i of [1, 4]) {
      const r = crossed[k][i];
      if (Buffer.isBuffer(r)) continue;
      assert.is(r!.at % 4096, 0, 'page-aligned');
      assert.is(r!.size, 128 + 256 * KiB);
      const check = checkShardBytes(Buffer.from(slots.memory!, r!.at, r!.size), v.id, i);
      assert.ok(check.ok, `extent ${k} shard ${i}: a valid shard file`);
      assert.ok(check.ok && check.payload.equals(full[i]), `extent ${k} shard ${i}: the rebuilt payload`);
    }
  }
  assert.is(crossed[0][0], undefined, 'a valid shard does not cross');
});

test('a verify thread lends its rebuilt shard files in shared slots, lends new ones while they are held, and the same again once given back', async () => {
  const fx = clonePool(big);
  const pool = openPool(fx.pool);
  const dirs: string[] = [];
  for (const d of pool.disks) dirs[d.index] = extentsDir(d.path);
  const extents = readManifests(fx.pool).get('big')!.extents.slice(0, 2);
  const wanted = new Map<string, Buffer>();
  for (const e of extents) for (const i of [1, 4]) {
    const file = shardsOfExtent(fx, e.id)[i].path;
    wanted.set(`${e.id}.${i}`, fs.readFileSync(file));
    fs.rmSync(file);
  }
  const plans: ExtentPlan[] = extents.map((e) => ({ id: e.id, scheme: 'rs:4+2', length: e.length, files: shardsOfExtent(fx, e.id).filter((s) => s.index !== 1 && s.index !== 4).map((s) => ({ index: s.index, disk: s.disk, path: s.path, regular: true })) }));
  const workers = new VerifyWorkers(1, dirs);
  const lent = async (): Promise<ShardImage[]> => {
    const a = await workers.verify(plans, 0, 0, 'deep', true);
    const images: ShardImage[] = [];
    for (const [id, r] of a.rebuilt!) {
      assert.ok(Array.isArray(r), `${id}: rebuilt`);
      (r as (RebuiltShard | undefined)[]).forEach((x, i) => {
        if (!x) return;
        assert.ok(isImage(x), `${id}.${i}: crossed in a slot`);
        const image = x as ShardImage;
        assert.ok(image.slot.subarray(0, image.size).equals(wanted.get(`${id}.${i}`)!), `${id}.${i}: the shard file as it was`);
        images.push(image);
      });
    }
    return images;
  };
  const at = (images: ShardImage[]) => images.map((x) => x.slot.byteOffset).sort((a, b) => a - b);
  try {
    const first = await lent();
    assert.is(first.length, 4, 'two extents, two shards each');
    assert.ok(first.every((x) => x.slot.byteOffset % 4096 === 0 && x.slot.length % 4096 === 0), 'page-aligned, whole pages');
    const second = await lent();
    assert.ok(at(second).every((o) => !at(first).includes(o)), 'held ones are not lent again');
    for (const x of [...first, ...second]) x.release();
    // Given back together at the end of the tick, ahead of the next request.
    await new Promise((r) => setImmediate(r));
    assert.equal(at(await lent()), at(first), 'given back: the first slots again');
  } finally {
    await workers.close();
  }
});

test('two damaged copies of one shard rebuilt into one shared slot: both rewritten whole from it', async () => {
  const fx = clonePool(big);
  const id = fx.objects[0].extents[0];
  const length = readManifests(fx.pool).get('big')!.extents.find((e) => e.id === id)!.length;
  const files = shardsOfExtent(fx, id);
  const good = fs.readFileSync(files[2].path);
  // A second copy of shard 2, on the disk of shard 3; both copies rotted.
  const twin = path.join(path.dirname(files[3].path), path.basename(files[2].path));
  fs.copyFileSync(files[2].path, twin);
  flipBit(files[2].path, 128 + 1000);
  flipBit(twin, 128 + 2000);
  const shards: ShardResult[] = files.map((s) => ({ index: s.index, disk: s.disk, path: s.path, status: s.index === 2 ? ('checksum-mismatch' as const) : ('ok' as const) }));
  shards.push({ index: 2, disk: files[3].disk, path: twin, status: 'checksum-mismatch' });
  const v: ExtentVerdict = { id, scheme: 'rs:4+2', length, health: 'degraded', valid: [0, 1, 3, 4, 5], shards, bytesRead: 0 };
  const slots = new SharedSlots(1024 * KiB);
  const crossed = brokenShardFiles(v, await rebuildExtent(v), slots) as (Buffer | SlotRef | undefined)[];
  const ref = crossed[2] as SlotRef;
  assert.ok(ref && !Buffer.isBuffer(ref), 'shard 2 crossed once, in a slot');
  const released: number[] = [];
  const image = { slot: Buffer.from(slots.memory!, ref.at, alignUp(ref.size)), size: ref.size, release: () => released.push(ref.at) };
  const [out] = await repairExtents(openPool(fx.pool), [v], 'test-pass', new Map([[id, crossed.map((x, i) => (i === 2 ? image : (x as Buffer | undefined)))]]));
  for (const s of shards.filter((r) => r.index === 2)) {
    assert.ok(out.get(s)!.ok, `${s.path}: ${out.get(s)!.detail}`);
    assert.ok(fs.readFileSync(s.path).equals(good), `${s.path}: rewritten as the shard was`);
  }
  assert.equal(released, [], 'the slot is the caller\'s to give back');
});

test('rebuilt in a reused scratch: views of it, the same bytes as in fresh buffers, extent after extent; a short scratch refused', async () => {
  const fx = clonePool(big);
  const ids = fx.objects[0].extents.slice(0, 3);
  const fresh = await Promise.all(ids.map((id) => rebuildExtent(verdictWith(fx, id, [0, 5]))));
  const v0 = verdictWith(fx, ids[0], [0, 5]);
  const scratch = Buffer.alloc(scratchBytes(v0), 0xee);
  assert.is(scratch.length, 6 * 256 * KiB);
  for (const [i, id] of ids.entries()) {
    const full = await rebuildExtent(verdictWith(fx, id, [0, 5]), scratch);
    assert.ok(full.every((p) => p.buffer === scratch.buffer), `extent ${i}: every payload a view of the scratch`);
    full.forEach((p, j) => assert.ok(p.equals(fresh[i][j]), `extent ${i}, shard ${j}: as rebuilt in fresh buffers`));
    // What crosses to the main thread is copied out: the next extent may overwrite the scratch.
    const kept = brokenShardFiles(verdictWith(fx, id, [0, 5]), full) as Buffer[];
    assert.is.not(kept[0].buffer, scratch.buffer);
  }
  let refused: unknown;
  try {
    await rebuildExtent(v0, Buffer.alloc(1024));
  } catch (err) {
    refused = err;
  }
  assert.match(String(refused), /scratch of 1024 bytes, need 1572864/);
});

test('sources in place: the valid payloads of files read whole copied into the codec buffer, each in its place, and rebuilt from there with no file read again; rotted in place, rebuilt from the files', async () => {
  const fx = clonePool(big);
  const id = fx.objects[0].extents[0];
  const shards = shardsOfExtent(fx, id);
  const fresh = await rebuildExtent(verdictWith(fx, id, [4]));
  fs.rmSync(shards[4].path);
  // Shard 2 judged rotted (its bytes are not to be trusted), shard 3 not read whole (judged from a buffered read).
  const v = verdictWith(fx, id, [4]);
  v.shards[2] = { ...v.shards[2], status: 'checksum-mismatch' };
  const plan: ExtentPlan = { id, scheme: v.scheme, length: v.length, files: shards.map((s) => ({ index: s.index, disk: s.disk, path: s.path, regular: true })) };
  const whole = shards.map((s) => (s.index === 3 || s.index === 4 ? undefined : fs.readFileSync(s.path)));
  const taken: number[] = [];
  const sources = sourcesInPlace(v, plan, whole, (bytes) => (taken.push(bytes), Buffer.alloc(bytes, 0xee)))!;
  assert.equal(taken, [scratchBytes(v)], 'one codec buffer');
  assert.equal([...sources.shards].sort(), [0, 1, 5], 'the valid ones read whole');
  const len = 256 * KiB;
  for (const i of [0, 1, 5]) assert.ok(sources.scratch.subarray(i * len, (i + 1) * len).equals(fresh[i]), `shard ${i} in its place`);
  // Those in place are gone from the disks: read again, the rebuild would fail.
  const away = scratchDir('dfs-in-place-');
  for (const i of [0, 1, 5]) fs.renameSync(shards[i].path, path.join(away, String(i)));
  const full = await rebuildExtent(v, sources.scratch, sources.shards);
  full.forEach((p, j) => assert.ok(p.equals(fresh[j]), `shard ${j}: as rebuilt from the files`));
  assert.ok(full[5].buffer === sources.scratch.buffer && full[5].byteOffset === sources.scratch.byteOffset + 5 * len, 'parity found in place kept in place');
  // A payload rotted in place (copied wrong): the extent id refuses what it gives, and the files are read instead.
  for (const i of [0, 1, 5]) fs.renameSync(path.join(away, String(i)), shards[i].path);
  const again = sourcesInPlace(v, plan, whole, (bytes) => Buffer.alloc(bytes))!;
  again.scratch[len + 100] ^= 1;
  const refetched = await rebuildExtent(v, again.scratch, again.shards);
  refetched.forEach((p, j) => assert.ok(p.equals(fresh[j]), `shard ${j}: rebuilt from the files after the proof refused`));
  // None to be had: nothing copied, the rebuild reads the files.
  assert.is(sourcesInPlace(v, plan, whole, () => undefined), undefined);
  assert.is(sourcesInPlace({ ...v, scheme: 'mirror:2' }, plan, whole, (bytes) => Buffer.alloc(bytes)), undefined, 'a mirror is rebuilt by copying a file');
});

test('--repair over shards of 256 KiB: lost and rotted shards rewritten bit-identical, mode 0644, audited, no temp file left', () => {
  const fx = clonePool(big);
  const lost: string[] = [];
  // Two lost in extents 0 and 2, one rotted in extent 1: each rebuildable (rs:4+2 survives two).
  for (const id of [fx.objects[0].extents[0], fx.objects[0].extents[2]]) {
    const shards = shardsOfExtent(fx, id);
    for (const i of [1, 4]) {
      fs.rmSync(shards[i].path);
      lost.push(shards[i].path);
    }
  }
  const rotted = shardsOfExtent(fx, fx.objects[0].extents[1])[2].path;
  flipBit(rotted, 200 * KiB);
  const r = scrubExpect(fx.pool, ['--repair', '--intensity', 'max'], 1, 'repair');
  assert.equal(r.repairs, { attempted: lost.length + 1, successful: lost.length + 1 });
  for (const f of [...lost, rotted]) {
    assertRestored(fx, f, 'repair of a big shard');
    assert.is(fs.statSync(f).mode & 0o777, 0o644, `${f}: mode`);
    assertAudited(fx.pool, f, 'repair of a big shard');
  }
  for (const d of fx.disks) {
    const temps = fs.readdirSync(path.join(d, 'extents'), { recursive: true }).map(String).filter((n) => path.basename(n).startsWith('.'));
    assert.equal(temps, [], `temp files left on ${d}`);
  }
  scrubExpect(fx.pool, [], 0, 'verify after repair');
  assertObjectsIntact(fx, 'after repair');
});

test('a broken shard whose rebuilt payload never came is reported failed; nothing is written in its place', async () => {
  const fx = clonePool(big);
  const id = fx.objects[0].extents[0];
  const v = verdictWith(fx, id, [1, 4]);
  const files = shardsOfExtent(fx, id);
  for (const i of [1, 4]) fs.rmSync(files[i].path);
  const full = await rebuildExtent(v);
  // Shard 4's payload is absent from what came over.
  const came = full.map((b, i) => (i === 1 ? b : undefined));
  const [out] = await repairExtents(openPool(fx.pool), [v], 'test-pass', new Map([[id, came]]));
  const one = out.get(v.shards[1])!;
  const four = out.get(v.shards[4])!;
  assert.ok(one.ok, `shard 1 repaired: ${one.detail}`);
  assertRestored(fx, files[1].path, 'shard 1');
  assert.not.ok(four.ok, 'shard 4 not repaired');
  assert.match(four.detail, /shard 4 was not rebuilt/);
  assert.not.ok(fs.existsSync(files[4].path), 'nothing written for shard 4');
  assert.equal(fs.readdirSync(path.dirname(files[4].path)).filter((n) => n.startsWith('.')), [], 'no temp file for shard 4');
});

test('a written shard its check refuses is never renamed into place: an error, no file, no temp file, no onPlaced', async () => {
  const dir = path.join(scratchDir('dfs-write-check-'), 'ab');
  fs.mkdirSync(dir);
  // One small shard (through the page cache) and one big (O_DIRECT), each with a file already at its name.
  const sizes = [4 * KiB, 256 * KiB];
  const writes = sizes.map((n, i) => ({ file: path.join(dir, `ab${i}.0`), header: Buffer.alloc(128, 1), payload: Buffer.alloc(n, 2 + i) }));
  for (const w of writes) fs.writeFileSync(w.file, 'old');
  const seen: string[] = [];
  const placed: number[] = [];
  const errors = await writeShardFiles(
    writes,
    (i) => placed.push(i),
    (i, written) => {
      // What the check gets is the shard whole, its temp file fsynced, not yet under its name.
      assert.ok(written.equals(Buffer.concat([writes[i].header, writes[i].payload])), `shard ${i} checked as written`);
      assert.is(fs.readFileSync(writes[i].file, 'utf8'), 'old');
      const temps = fs.readdirSync(dir).filter((n) => n.startsWith('.tmp-'));
      assert.ok(temps.some((n) => fs.statSync(path.join(dir, n)).size === 128 + sizes[i]), 'the temp file is complete');
      seen.push(String(i));
      return i === 1 ? 'written shard failed verification: checksum-mismatch' : undefined;
    },
  );
  assert.is(seen.length, 2);
  assert.is(errors[0], undefined);
  assert.match(String(errors[1]?.message), /failed verification/);
  assert.equal(placed, [0], 'onPlaced for the accepted write only');
  assert.is(fs.statSync(writes[0].file).size, 128 + sizes[0], 'the accepted write is in place');
  assert.is(fs.readFileSync(writes[1].file, 'utf8'), 'old', 'the refused one left the old file');
  assert.equal(fs.readdirSync(dir).sort(), ['ab0.0', 'ab1.0'], 'no temp file left');
});


/** Shard 1 of the extent lost, shard 4 rotted: its verdict, and where everything is to be looked for. */
function lostAndRotted(fx: Fixture) {
  const id = fx.objects[0].extents[0];
  const files = shardsOfExtent(fx, id);
  const length = readManifests(fx.pool).get('big')!.extents.find((e) => e.id === id)!.length;
  fs.rmSync(files[1].path);
  flipBit(files[4].path, 128 + 999);
  const rotted = fs.readFileSync(files[4].path);
  const shards: ShardResult[] = files.map((s) => ({
    index: s.index,
    path: s.path,
    ...(s.index === 1 ? { disk: -1, status: 'missing' as const } : { disk: s.disk, status: s.index === 4 ? ('checksum-mismatch' as const) : ('ok' as const) }),
  }));
  const v: ExtentVerdict = { id, scheme: 'rs:4+2', length, health: 'degraded', valid: [0, 2, 3, 5], shards, bytesRead: 0 };
  const disks = fs.readdirSync(path.join(fx.pool, 'disks')).map((d) => path.join(fx.pool, 'disks', d));
  const named = (re: RegExp) => disks.flatMap((d) => (fs.readdirSync(extentsDir(d), { recursive: true }) as string[]).filter((f) => re.test(path.basename(f))));
  return {
    v,
    files,
    rotted,
    temps: () => named(/^\.tmp-/),
    placed: () => named(new RegExp(`^${id}\\.1$`)),
    kept: () => disks.flatMap((d) => (fs.existsSync(diskQuarantineDir(d)) ? fs.readdirSync(diskQuarantineDir(d)) : [])),
    audited: () => (fs.existsSync(path.join(fx.pool, '.dynamicfs', 'audit.log')) ? fs.readFileSync(path.join(fx.pool, '.dynamicfs', 'audit.log'), 'utf8').split('\n').filter((l) => l.includes('rebuild-shard')) : []),
  };
}

const until = async (what: string, ok: () => boolean) => {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}`);
};

test('a repair writes its temp files while its record goes to disk, and keeps, renames and audits nothing before the record is there', async () => {
  const fx = clonePool(big);
  const r = lostAndRotted(fx);
  let land!: () => void;
  const recorded = new Promise<void>((resolve) => (land = resolve));
  const repairing = repairExtents(openPool(fx.pool), [r.v], 'test-pass', undefined, recorded);
  await until('both temp files', () => r.temps().length === 2);
  await new Promise((res) => setTimeout(res, 100)); // written, fsynced and checked meanwhile
  assert.equal(r.placed(), [], 'the lost shard is not in place');
  assert.ok(fs.readFileSync(r.files[4].path).equals(r.rotted), 'the rotted shard is where it was, as it was');
  assert.equal(r.kept(), [], 'nothing kept in quarantine yet');
  assert.equal(r.audited(), [], 'nothing audited yet');
  land();
  const [out] = await repairing;
  for (const i of [1, 4]) assert.ok(out.get(r.v.shards[i])!.ok, `shard ${i}: ${out.get(r.v.shards[i])!.detail}`);
  assertRestored(fx, r.files[4].path, 'shard 4');
  assert.is(r.placed().length, 1, 'shard 1 in place');
  assert.is(r.kept().filter((n) => !n.endsWith('.json')).length, 1, 'the rotted file kept');
  assert.is(r.audited().length, 2);
  assert.equal(r.temps(), [], 'no temp file left');
});

test('a repair whose record cannot be written fails with it: nothing kept, renamed or audited, no temp file left', async () => {
  const fx = clonePool(big);
  const r = lostAndRotted(fx);
  let fail!: (err: Error) => void;
  const recorded = new Promise<void>((_resolve, reject) => (fail = reject));
  const repairing = repairExtents(openPool(fx.pool), [r.v], 'test-pass', undefined, recorded);
  await until('both temp files', () => r.temps().length === 2);
  fail(new Error('cannot write /pool/.dynamicfs/scrub-state.json: ENOSPC'));
  try {
    await repairing;
    assert.unreachable('the repair resolved');
  } catch (err) {
    assert.match((err as Error).message, /scrub-state\.json: ENOSPC/);
  }
  assert.equal(r.placed(), [], 'the lost shard is not in place');
  assert.ok(fs.readFileSync(r.files[4].path).equals(r.rotted), 'the rotted shard is where it was, as it was');
  assert.equal(r.kept(), [], 'nothing kept in quarantine');
  assert.equal(r.audited(), [], 'nothing audited');
  assert.equal(r.temps(), [], 'no temp file left');
});

test.run();
