// kill -9 torture for dfs-scrubd's crash safety. A damaged pool (mixed
// schemes) is repaired by `start --foreground --intensity medium` while the
// daemon is killed with SIGKILL at random moments (DFS_TORTURE times, default
// 20; `make torture` runs 100) and restarted each time, with fresh damage
// between some kills (never more per extent than its scheme can rebuild).
// After every kill: the state files parse, and no persisted counter went
// backwards (nor the cursor of the same pass). At the end one full pass runs
// to completion; then a verify-only scrub is clean (so no shard or manifest
// under its final name is torn or stale), every object reads back
// bit-identical, no counter was doubled (issues found <= damage injected), and
// leftover temp files are counted and reported. Paused stays paused across a
// kill -9, and a repair's count survives a kill soon after it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, cliPath } from './helpers';
import {
  control,
  diskDirs,
  flipPayloadByte,
  liveStatus,
  makePool,
  PersistedState,
  readState,
  reapDaemons,
  shardsByExtent,
  signalAndWait,
  sleep,
  startForeground,
  tempFiles,
  TestPool,
  waitFor,
  waitReady,
} from './daemon-fixtures';

const KILLS = Math.max(1, Number(process.env.DFS_TORTURE || 20));
const log = (s: string) => process.stdout.write(`  torture: ${s}\n`);

// ~300 extents of 16 KiB in three schemes; a medium-intensity pass takes a few seconds.
const pool = makePool({
  objects: [
    { name: 'rs42', bytes: 3 << 20 },
    { name: 'mirror3', bytes: 1 << 20, redundancy: 'mirror:3' },
    { name: 'rs21', bytes: 640 << 10, redundancy: 'rs:2+1' },
  ],
});

/** How many shards of an extent may be bad at once and still be rebuilt. */
function tolerance(files: Map<number, string>): number {
  const any = [...files.values()][0];
  const b = Buffer.alloc(15);
  const fd = fs.openSync(any, 'r');
  fs.readSync(fd, b, 0, 15, 0);
  fs.closeSync(fd);
  const kind = b.readUInt8(12);
  return kind === 1 ? b.readUInt8(13) - 1 : b.readUInt8(14);
}

/**
 * Shard indices damaged so far, per extent: never more than the extent's
 * tolerance, repaired or not, and never the same index twice, so that every
 * damage event needs exactly one repair.
 */
const damaged = new Map<string, Set<number>>();
let injected = 0;

/** Flips a payload byte in, or deletes, one shard of up to n extents that can take it. */
function injectDamage(n: number): number {
  const all = [...shardsByExtent(pool.root).entries()];
  let done = 0;
  for (let tries = 0; done < n && tries < 200; tries++) {
    const [id, files] = all[randomInt(all.length)];
    const hit = damaged.get(id) ?? new Set<number>();
    const fresh = [...files.keys()].filter((i) => !hit.has(i));
    if (fresh.length === 0 || hit.size >= tolerance(files)) continue;
    const idx = fresh[randomInt(fresh.length)];
    const file = files.get(idx)!;
    if (randomInt(2) === 0) flipPayloadByte(file);
    else {
      fs.rmSync(file);
      files.delete(idx);
    }
    hit.add(idx);
    damaged.set(id, hit);
    done++;
  }
  injected += done;
  return done;
}

/** Every JSON file the daemon keeps must parse after any crash (atomic replace). */
function checkStateFilesParse(): void {
  const dir = path.join(pool.root, '.dynamicfs');
  for (const f of ['scrub-state.json', 'daemon.json', 'daemon-settings.json']) {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) continue;
    const text = fs.readFileSync(p, 'utf8');
    try {
      JSON.parse(text);
    } catch {
      assert.unreachable(`${f} is torn after kill -9: ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
}

const COUNTERS = ['scrubsCompleted', 'issuesFound', 'repairsAttempted', 'repairsSuccessful', 'extentsScanned', 'bytesRead'] as const;

function checkMonotonic(prev: PersistedState | undefined, cur: PersistedState | undefined, round: number): void {
  if (!prev) return;
  assert.ok(cur, `round ${round}: the state file vanished`);
  for (const k of COUNTERS) {
    assert.ok(cur!.counters[k] >= prev.counters[k], `round ${round}: counter ${k} went backwards: ${prev.counters[k]} -> ${cur!.counters[k]}`);
  }
  if (prev.current && cur!.current && prev.current.id === cur!.current.id) {
    assert.ok(cur!.current.extentsDone >= prev.current.extentsDone, `round ${round}: extentsDone of pass ${cur!.current.id} went backwards`);
    assert.ok(cur!.current.cursor >= prev.current.cursor, `round ${round}: cursor went backwards`);
  }
}

let rounds = 0;
let killedBeforeReady = 0;

test(`kill -9 at random moments, ${KILLS} times, during repair passes; counters never go backwards`, async () => {
  injectDamage(40);
  // A manifest copy too: the prelude of a pass repairs it.
  const manifests = fs.readdirSync(path.join(diskDirs(pool.root)[0], 'objects')).filter((f) => f.endsWith('.manifest'));
  flipPayloadByte(path.join(diskDirs(pool.root)[0], 'objects', manifests[0]));
  injected++;
  let prev = readState(pool.root);
  for (let round = 1; round <= KILLS; round++) {
    const fg = startForeground(pool, ['--intensity', 'medium']);
    // One kill in five lands during start-up (lock taken, socket not yet serving).
    const delay = randomInt(5) === 0 ? randomInt(400) : 100 + randomInt(2500);
    await sleep(delay);
    const ready = (await liveStatus(pool.root).catch(() => undefined))?.pid === fg.child.pid;
    if (!ready) killedBeforeReady++;
    if (fg.child.exitCode !== null) assert.unreachable(`round ${round}: the daemon exited by itself (${fg.child.exitCode}):\n${fg.stderr()}`);
    const r = await signalAndWait(fg, 'SIGKILL');
    assert.is(r.signal, 'SIGKILL');
    checkStateFilesParse();
    const cur = readState(pool.root);
    checkMonotonic(prev, cur, round);
    prev = cur ?? prev;
    if (round % 3 === 0) injectDamage(2);
    rounds++;
  }
  log(`${rounds} kills (${killedBeforeReady} before the daemon answered), ${injected} damage events injected`);
});

test('paused stays paused across a kill -9: the restarted daemon is paused and makes no progress', async () => {
  const fg = startForeground(pool, ['--intensity', 'medium']);
  await waitReady(pool, fg.child.pid!);
  await control(pool.root, { cmd: 'pause' });
  await sleep(300);
  await signalAndWait(fg, 'SIGKILL');
  const fg2 = startForeground(pool, []);
  const s = await waitReady(pool, fg2.child.pid!);
  assert.is(s.paused, true, 'still paused after kill -9 and restart');
  await sleep(300);
  const a = (await liveStatus(pool.root))!;
  await sleep(1500);
  const b = (await liveStatus(pool.root))!;
  assert.equal(b.counters, a.counters, 'no progress while paused');
  await control(pool.root, { cmd: 'resume' });
  await signalAndWait(fg2, 'SIGKILL');
  checkStateFilesParse();
});

test('then a full pass completes: clean verify, objects bit-identical, nothing doubled, temp files counted', async () => {
  const t0 = Date.now();
  const fg = startForeground(pool, ['--intensity', 'max']);
  await waitReady(pool, fg.child.pid!);
  // A pass that began after the last damage, run to its end.
  const st = await waitFor('a pass begun after the restart to complete', () => {
    const s = readState(pool.root);
    return s?.lastPass && Date.parse(s.lastPass.startedAt) >= t0 - 1000 ? s : undefined;
  }, 60_000, 100);
  const r = await signalAndWait(fg, 'SIGTERM');
  assert.is(r.status, 0, r.stderr);
  assert.ok(['clean', 'repaired'].includes(st.lastPass!.outcome), `last pass outcome ${st.lastPass!.outcome}`);
  const after = readState(pool.root)!;
  assert.ok(!after.current || after.current.id !== st.lastPass!.id, 'state.current is absent or a later pass');

  // Nothing torn or stale under a final name: a verify-only scrub finds no problem.
  const v = cli('dfs-scrub', ['--pool', pool.root, '--json', '--intensity', 'max']);
  assert.is(v.status, 0, `verify-only scrub after the torture: ${v.stdout.slice(0, 3000)}${v.stderr}`);

  for (const [name, src] of pool.objects) {
    const out = path.join(pool.dir, `${name}.out`);
    const g = spawnSync(process.execPath, [cliPath('dfs-pool'), 'get', name, out, '--pool', pool.root], { encoding: 'utf8' });
    assert.is(g.status, 0, `get ${name}: ${g.stderr}`);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(src)), `${name} reads back bit-identical`);
  }

  // Each damage event needs exactly one repair. The audit log records each repair
  // right after it is made; the counters are saved right after that. A kill can
  // only fall between the two (a count lost), never make one count twice.
  const c = after.counters;
  const audit = fs.readFileSync(path.join(pool.root, '.dynamicfs', 'audit.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { result: string });
  const repairedInAudit = audit.filter((a) => a.result === 'repaired').length;
  assert.is(audit.length, repairedInAudit, 'no failed repair in the audit log');
  assert.ok(repairedInAudit <= injected, `audit log: ${repairedInAudit} repairs for ${injected} damage events: something was repaired twice`);
  assert.ok(c.issuesFound <= injected, `issues found ${c.issuesFound} > damage injected ${injected}: a count was doubled`);
  assert.ok(c.repairsSuccessful <= repairedInAudit, `repairs counted ${c.repairsSuccessful} > repairs made ${repairedInAudit}: doubled`);
  assert.ok(c.repairsSuccessful <= c.issuesFound);
  const temps = tempFiles(pool.root);
  for (const t of temps) assert.match(path.basename(t), /^\.tmp-\d+-\d+-|\.\d+-[0-9a-f]+\.tmp$|\.stale-\d+$/, `temp file name ${t}`);
  log(`damage injected ${injected}; counted: issues ${c.issuesFound}, repairs ${c.repairsSuccessful}; audit log: ${repairedInAudit} repairs; counts lost to kill -9: ${repairedInAudit - c.repairsSuccessful} (repairs made but not counted), ${injected - repairedInAudit} repairs with no audit line`);
  log(`${temps.length} temp file(s) left under their temp names${temps.length ? `: ${temps.map((t) => path.relative(pool.root, t)).slice(0, 5).join(', ')}${temps.length > 5 ? ', ...' : ''}` : ''}`);
  log(`counters: ${JSON.stringify(c)}`);
});

test("a repair's count survives a kill -9 soon after the repair (counts are never lost)", async () => {
  const p: TestPool = makePool({ objects: [{ name: 'one', bytes: 200 * 16 * 1024 }] });
  // The first extent in id order: repaired right after the pass's first checkpoint,
  // so without a checkpoint after the repair the kill 300 ms later always loses it.
  const byId = [...shardsByExtent(p.root).entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  flipPayloadByte(byId[0][1].get(1)!);
  const audit = path.join(p.root, '.dynamicfs', 'audit.log');
  const fg = startForeground(p, ['--intensity', 'medium']);
  await waitFor('the repair in the audit log', () => fs.existsSync(audit) && fs.readFileSync(audit, 'utf8').includes('"repaired"'), 30_000, 20);
  await sleep(300);
  await signalAndWait(fg, 'SIGKILL');
  const fg2 = startForeground(p, ['--intensity', 'max']);
  await waitFor('the pass to complete', () => readState(p.root)?.lastPass, 30_000, 100);
  await signalAndWait(fg2, 'SIGTERM');
  const s = readState(p.root)!;
  assert.is(s.lastPass!.outcome, 'repaired', `the pass that repaired the shard reports it (outcome ${s.lastPass!.outcome})`);
  assert.is(s.counters.issuesFound, 1, 'the issue found and repaired before the kill is counted once');
  assert.is(s.counters.repairsSuccessful, 1);
});

test.after(reapDaemons);

test.run();
