// Signals to dfs-scrubd: SIGTERM (and SIGINT) mid-pass finish the operation
// in hand, save the pass with its cursor and exit 0; the next start resumes
// the same pass and ends with every extent counted exactly once. SIGHUP
// re-reads daemon-settings.json (what `systemctl reload` does through the
// unit's ExecReload). SIGTERM is prompt while paused and between passes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import {
  liveStatus,
  logFile,
  makePool,
  reapDaemons,
  readState,
  settingsFile,
  signalAndWait,
  sleep,
  startDetached,
  startForeground,
  stopDaemon,
  waitFor,
  waitGone,
  waitReady,
} from './daemon-fixtures';

// 128 extents of 16 KiB: a low-intensity pass takes ~13 s.
const EXTENTS = 128;
const pool = makePool({ objects: [{ name: 'sig', bytes: EXTENTS * 16 * 1024 }] });

test('SIGTERM mid-pass: exit 0, the pass is saved with its cursor; the next start resumes it and counts each extent once', async () => {
  const fg = startForeground(pool, ['--intensity', 'low']);
  await waitReady(pool, fg.child.pid!);
  const mid = await waitFor('10 extents done', async () => {
    const s = await liveStatus(pool.root);
    return s?.pass && s.pass.extentsDone >= 10 ? s : undefined;
  });
  const r = await signalAndWait(fg, 'SIGTERM', 10_000);
  assert.is(r.status, 0, r.stderr);
  const st = readState(pool.root)!;
  assert.ok(st.current, 'state.current saved');
  assert.is(st.current!.id, mid.pass!.id, 'the same pass');
  assert.match(st.current!.cursor, /^[0-9a-f]{64}$/, 'with a cursor');
  assert.ok(st.current!.extentsDone >= mid.pass!.extentsDone, `saved ${st.current!.extentsDone} >= seen ${mid.pass!.extentsDone}`);
  assert.is(st.counters.extentsScanned, st.current!.extentsDone, 'counters and cursor saved together');
  assert.not.ok(st.lastPass, 'no pass completed yet');

  // Resume, and finish quickly.
  const s = startDetached(pool, ['--intensity', 'max']);
  assert.is(s.result.status, 0, s.result.stderr);
  const first = (await liveStatus(pool.root))!;
  assert.is(first.pass?.id, st.current!.id, 'status shows the same pass id after restart');
  assert.ok(first.pass!.extentsDone >= st.current!.extentsDone, 'progress not reset');
  const done = await waitFor('the resumed pass to complete', () => {
    const f = readState(pool.root);
    return f?.lastPass?.id === st.current!.id ? f : undefined;
  }, 30_000);
  assert.is(done.lastPass!.extentsScanned, EXTENTS, 'the resumed pass scanned every extent exactly once');
  assert.ok(done.counters.extentsScanned >= EXTENTS);
  assert.is(stopDaemon(pool).status, 0);
  await waitGone(s.pid);
  const after = readState(pool.root)!;
  // Counted once: every extent of pass 1, plus exactly what later passes had done when stopped.
  const later = after.current ? after.current.extentsDone : 0;
  assert.is(after.counters.extentsScanned, EXTENTS * after.counters.scrubsCompleted + later, 'extentsScanned = extents x passes + the stopped pass');
});

test('SIGINT is a stop too: exit 0, state saved', async () => {
  const fg = startForeground(pool, ['--intensity', 'low']);
  await waitReady(pool, fg.child.pid!);
  await sleep(500);
  const r = await signalAndWait(fg, 'SIGINT', 10_000);
  assert.is(r.status, 0, r.stderr);
  assert.ok(readState(pool.root)!.current, 'a pass is saved');
});

test('SIGHUP re-reads daemon-settings.json: intensity, paused; a corrupt file is reported and the daemon keeps running', async () => {
  const fg = startForeground(pool, ['--intensity', 'low']);
  const pid = fg.child.pid!;
  await waitReady(pool, pid);
  const base = JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8'));
  const edit = (patch: Record<string, unknown>) => {
    Object.assign(base, patch);
    fs.writeFileSync(settingsFile(pool.root), JSON.stringify(base));
  };
  edit({ intensity: 'high' });
  assert.is((await liveStatus(pool.root))!.intensity, 'low', 'no change before the signal');
  process.kill(pid, 'SIGHUP');
  await waitFor('intensity high after SIGHUP', async () => (await liveStatus(pool.root))?.intensity === 'high', 3000);

  edit({ paused: true });
  process.kill(pid, 'SIGHUP');
  await waitFor('paused after SIGHUP', async () => (await liveStatus(pool.root))?.paused === true, 3000);
  await sleep(400);
  const a = (await liveStatus(pool.root))!.counters.extentsScanned;
  await sleep(1000);
  assert.is((await liveStatus(pool.root))!.counters.extentsScanned, a, 'paused by SIGHUP really pauses');

  fs.writeFileSync(settingsFile(pool.root), '{ not json');
  process.kill(pid, 'SIGHUP');
  await sleep(500);
  const s = await liveStatus(pool.root);
  assert.ok(s, 'still serving after a corrupt settings file');
  assert.is(s!.intensity, 'high', 'settings kept');
  edit({ paused: false, intensity: 'low' });
  process.kill(pid, 'SIGHUP');
  await waitFor('resumed after SIGHUP', async () => (await liveStatus(pool.root))?.paused === false, 3000);
  const r = await signalAndWait(fg, 'SIGTERM');
  assert.is(r.status, 0);
  assert.match(r.stderr, /cannot reload settings.*daemon-settings\.json/, 'the corrupt file is named in the log');
});

test('SIGTERM while paused and while waiting between passes: exit 0 within 2 s', async () => {
  const small = makePool({ objects: [{ name: 'tiny', bytes: 64 * 1024 }] });
  const fg = startForeground(small, ['--intensity', 'max', '--pass-interval', '1h']);
  await waitReady(small, fg.child.pid!);
  await waitFor('waiting between passes', async () => (await liveStatus(small.root))?.phase === 'waiting', 15_000);
  let t0 = Date.now();
  let r = await signalAndWait(fg, 'SIGTERM', 5000);
  assert.is(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);

  const fg2 = startForeground(pool, ['--intensity', 'low']);
  await waitReady(pool, fg2.child.pid!);
  process.kill(fg2.child.pid!, 'SIGHUP'); // harmless
  const st = readState(pool.root)!;
  fs.writeFileSync(settingsFile(pool.root), JSON.stringify({ ...JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')), paused: true }));
  process.kill(fg2.child.pid!, 'SIGHUP');
  await waitFor('paused', async () => (await liveStatus(pool.root))?.paused === true, 3000);
  t0 = Date.now();
  r = await signalAndWait(fg2, 'SIGTERM', 5000);
  assert.is(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.ok(readState(pool.root)!.counters.extentsScanned >= st.counters.extentsScanned);
  fs.writeFileSync(settingsFile(pool.root), JSON.stringify({ ...JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')), paused: false }));
});

test('a detached daemon stopped with SIGTERM logs it and exits cleanly (socket and lock removed)', async () => {
  const s = startDetached(pool);
  assert.is(s.result.status, 0, s.result.stderr);
  process.kill(s.pid, 'SIGTERM');
  await waitGone(s.pid, 10_000);
  assert.not.ok(fs.existsSync(`${pool.root}/.dynamicfs/scrubd.sock`), 'socket removed');
  assert.not.ok(fs.existsSync(`${pool.root}/.dynamicfs/scrub.lock`), 'lock removed');
  assert.match(fs.readFileSync(logFile(pool.root), 'utf8'), /stopping/);
});

test.after(reapDaemons);

test.run();
