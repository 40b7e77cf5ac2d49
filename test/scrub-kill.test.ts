// kill -9 during `dfs-scrub --repair`: on a pool with many damaged shards, the
// repairer is SIGKILLed at random moments (and right after it starts touching
// the quarantine, to land inside a repair). After every kill:
//   - every damaged shard file holds either its damaged bytes (or is still
//     absent) or its original bytes: never anything else (no torn write under a
//     final name); every healthy shard is untouched;
//   - a verify-only pass reports only the injected kinds at the injected paths
//     not yet repaired; leftover temp files show up as info (listed at the end);
//   - the stale lock of the killed scrubber is taken over;
//   - a final --repair then verify exit 0 and every object reads back identical.
// ~5 iterations normally; DFS_TORTURE=N runs N.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cliAsync, collect } from './helpers';
import {
  assertObjectsIntact,
  clonePool,
  Fixture,
  flipBit,
  listShards,
  makePool,
  quarantineDirs,
  quarantineNotes,
  readState,
  scrubExpect,
  sleep,
  summarize,
} from './scrub-fixtures.test';

const HEADER = 128;
const ITERATIONS = Math.max(1, Number(process.env.DFS_TORTURE) || 5);

interface Damage {
  kind: string;
  /** Bytes after damage; undefined when the file was deleted. */
  bytes?: Buffer;
}

let template: { fx: Fixture; damage: Map<string, Damage> } | undefined;

/** 16 rs:4+2 extents and 8 mirror:2 extents of 4 KiB; one shard of every extent damaged, six ways. */
function damagedTemplate() {
  if (template) return template;
  const fx = makePool({
    extentSize: '4K',
    objects: [
      { name: 'rs', size: 16 * 4096 },
      { name: 'mirror', size: 8 * 4096 - 100, redundancy: 'mirror:2' },
    ],
  });
  const damage = new Map<string, Damage>();
  const ids = [...new Set(fx.shards.map((s) => s.extent))].sort();
  ids.forEach((id, i) => {
    const shards = fx.shards.filter((s) => s.extent === id);
    const s = shards[i % shards.length];
    const size = fs.statSync(s.path).size;
    let kind: string;
    switch (i % 6) {
      case 0:
        flipBit(s.path, HEADER + (i % 50));
        kind = 'checksum-mismatch';
        break;
      case 1:
        flipBit(s.path, 45);
        kind = 'header-damaged';
        break;
      case 2:
        fs.truncateSync(s.path, 0);
        kind = 'truncated';
        break;
      case 3:
        fs.truncateSync(s.path, Math.floor(size / 2));
        kind = 'truncated';
        break;
      case 4:
        fs.appendFileSync(s.path, 'tail');
        kind = 'oversized';
        break;
      default:
        fs.rmSync(s.path);
        kind = 'missing-shard';
    }
    damage.set(s.path, { kind, bytes: kind === 'missing-shard' ? undefined : fs.readFileSync(s.path) });
  });
  for (const q of quarantineDirs(fx.pool)) fs.mkdirSync(q, { recursive: true });
  template = { fx, damage };
  return template;
}

const staleSeen = new Set<string>();
const otherInfo: string[] = [];
let killedMidRepair = 0;

async function oneIteration(iter: number): Promise<void> {
  const t = damagedTemplate();
  const fx = clonePool(t.fx);
  const rebase = (p: string) => path.join(fx.pool, path.relative(t.fx.pool, p));
  const damage = new Map([...t.damage].map(([p, d]) => [rebase(p), d]));
  const what = `iteration ${iter}`;

  // Odd iterations: kill as soon as the repairer creates something in quarantine
  // (that is, in the middle of a repair). Even ones: at a random moment of the pass.
  const child = cliAsync('dfs-scrub', ['--pool', fx.pool, '--repair', '--intensity', 'low', '--json']);
  const done = collect(child);
  let watcher: fs.FSWatcher | undefined;
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  if (iter % 2 === 1) {
    // Not always the first repair, and not always at once: a few ms later the
    // repairer is writing the rebuilt shard's temp file or renaming it.
    const skip = Math.floor(Math.random() * 12);
    const delay = Math.random() * 25;
    let seen = 0;
    const watchers = quarantineDirs(fx.pool).map((q) =>
      fs.watch(q, () => {
        if (++seen === skip + 1) setTimeout(kill, delay);
      }),
    );
    watcher = { close: () => watchers.forEach((w) => w.close()) } as fs.FSWatcher;
    setTimeout(kill, 6000).unref();
  } else {
    setTimeout(kill, 150 + Math.random() * 3000).unref();
  }
  const r = await done;
  watcher?.close();
  if (r.signal !== 'SIGKILL') {
    // The pass ended before the kill: nothing to check about a crash this time.
    assert.is(r.status, 1, `${what}: an uninterrupted repair: ${r.stderr}`);
  }

  // 1. Every damaged file is old or new, never torn; every healthy file untouched.
  const now = new Map(listShards(fx.pool).map((s) => [s.path, s]));
  let repaired = 0;
  for (const [p, d] of damage) {
    const orig = fx.original.get(p)!;
    if (!now.has(p)) {
      assert.is(d.bytes, undefined, `${what}: ${p} (was ${d.kind}) vanished`);
      continue;
    }
    const st = fs.lstatSync(p);
    assert.ok(st.isFile(), `${what}: ${p} is no longer a regular file`);
    const b = fs.readFileSync(p);
    if (b.equals(orig)) repaired++;
    else assert.ok(d.bytes && b.equals(d.bytes), `${what}: ${p} (was ${d.kind}) holds neither its damaged nor its original bytes (${b.length} bytes): torn write?`);
  }
  if (r.signal === 'SIGKILL' && repaired < damage.size && quarantineNotes(fx.pool).length + (fs.existsSync(path.join(fx.pool, '.dynamicfs', 'audit.log')) ? 1 : 0) > 0) killedMidRepair++;
  if (process.env.DFS_TORTURE) process.stderr.write(`${what}: ${r.signal ?? `exit ${r.status}`}, ${repaired}/${damage.size} repaired at the kill\n`);
  for (const [p, s] of now) {
    if (damage.has(p)) continue;
    const orig = fx.original.get(p);
    assert.ok(orig, `${what}: a shard file appeared that was not there before: ${p} (extent ${s.extent} shard ${s.index})`);
    assert.ok(fs.readFileSync(p).equals(orig!), `${what}: healthy shard ${p} was changed`);
  }
  for (const [p] of fx.original) {
    if (/\/extents\//.test(p) && !damage.has(p)) assert.ok(now.has(p), `${what}: healthy shard ${p} disappeared`);
  }

  // 2. A verify-only pass sees only what was injected and not yet repaired.
  const v = scrubExpect(fx.pool, [], repaired === damage.size ? 0 : 4, `${what}: verify after kill`);
  for (const f of v.issues) {
    const d = damage.get(f.path);
    assert.ok(d, `${what}: verify after kill found ${f.kind} at ${f.path}, which was not damaged by the test`);
    assert.is(f.kind, d!.kind, `${what}: ${f.path} was damaged as ${d!.kind}, verify says ${f.kind}`);
  }
  assert.is(v.issues.length, damage.size - repaired, `${what}: issues ${summarize(v.issues)}`);
  for (const f of v.info) {
    if (f.kind === 'stale-temp-file') staleSeen.add(path.basename(f.path).replace(/^\.tmp-\d+-\d+-([0-9a-f]{12}-)?/, '.tmp-PID-N-'));
    else otherInfo.push(`${f.kind} ${f.path} ${f.detail ?? ''}`);
  }
  // No temp file under a final name: a final name holds a whole shard (checked above);
  // temp names never look like shard names.
  for (const p of now.keys()) assert.not.ok(path.basename(p).startsWith('.tmp-'), p);

  // 3. Quarantine: every note is whole JSON, and kept content is the damaged bytes.
  for (const n of quarantineNotes(fx.pool)) {
    const d = damage.get(String(n.note.original));
    assert.ok(d, `${what}: quarantine note for an undamaged file ${n.note.original}`);
    if (n.note.content) {
      const kept = fs.readFileSync(path.join(path.dirname(n.file), n.note.content));
      assert.ok(d!.bytes && kept.equals(d!.bytes), `${what}: quarantined copy of ${n.note.original} is not the damaged bytes`);
    }
  }

  // 4. Finish the job (alternately resuming the killed pass): the stale lock is taken over.
  const resume = iter % 2 === 0 ? ['--resume'] : [];
  const fin = scrubExpect(fx.pool, ['--repair', '--intensity', 'max', ...resume], repaired === damage.size ? 0 : 1, `${what}: final repair ${resume.join(' ')}`);
  assert.equal(fin.issues.filter((f) => f.result !== 'repaired'), [], `${what}: final repair left problems`);
  for (const p of damage.keys()) assert.ok(fs.readFileSync(p).equals(fx.original.get(p)!), `${what}: ${p} not restored by the final repair`);
  scrubExpect(fx.pool, [], 0, `${what}: verify after final repair`);
  assertObjectsIntact(fx, what);
  assert.is(readState(fx.pool).current, undefined, `${what}: a pass is still marked in progress`);
}

test(`SIGKILL during --repair, ${ITERATIONS} iteration(s): never torn, only injected kinds left, final repair restores everything`, async () => {
  for (let i = 0; i < ITERATIONS; i++) await oneIteration(i);
  process.stderr.write(
    `\nscrub-kill: ${ITERATIONS} iterations, ${killedMidRepair} killed after repairs had begun and before all were done` +
      `\nscrub-kill: stale temp files reported as info after kills: ${staleSeen.size ? [...staleSeen].join(', ') : 'none'}` +
      (otherInfo.length ? `\nscrub-kill: other info findings: ${otherInfo.slice(0, 10).join('; ')}` : '') +
      '\n',
  );
});

test('after SIGKILL mid-repair and a --resume, the repair counters count every repaired shard', async () => {
  // Counters are checkpointed with the cursor; repairs done after the last
  // checkpoint and before a kill -9 are not found again by the next pass.
  const t = damagedTemplate();
  const fx = clonePool(t.fx);
  const child = cliAsync('dfs-scrub', ['--pool', fx.pool, '--repair', '--intensity', 'low', '--json']);
  const done = collect(child);
  // Kill once three repairs are complete (audited), well before the 5 s checkpoint.
  const audit = path.join(fx.pool, '.dynamicfs', 'audit.log');
  const auditedNow = () => (fs.existsSync(audit) ? fs.readFileSync(audit, 'utf8').split('\n').filter(Boolean).length : 0);
  const end = Date.now() + 6000;
  while (child.exitCode === null && auditedNow() < 3 && Date.now() < end) await sleep(5);
  child.kill('SIGKILL');
  const r = await done;
  const before = auditedNow();
  assert.is(r.signal, 'SIGKILL');
  assert.ok(before >= 3, `killed after ${before} audited repairs`);
  scrubExpect(fx.pool, ['--repair', '--resume', '--intensity', 'max'], 1, 'resume');
  const c = readState(fx.pool).counters;
  const audited = fs.readFileSync(path.join(fx.pool, '.dynamicfs', 'audit.log'), 'utf8').split('\n').filter((l) => l.includes('"repaired"')).length;
  assert.is(audited, t.damage.size, 'audit.log has one repaired line per damaged shard');
  assert.is(c.repairsSuccessful, t.damage.size, `counters.repairsSuccessful ${c.repairsSuccessful}, but ${t.damage.size} shards were repaired (audit.log agrees): repairs between the last checkpoint and the kill are lost from the counters`);
  assert.is(c.issuesFound, t.damage.size, 'counters.issuesFound');
});

test.run();
