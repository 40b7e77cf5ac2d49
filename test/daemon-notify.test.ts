// dfs-scrubd under systemd's notify protocol, against a real datagram socket
// (socat listening on a unix socket, as systemd's NOTIFY_SOCKET): READY=1 once
// it serves, STATUS= lines with the pass progress, WATCHDOG=1 at half of
// WATCHDOG_USEC, STOPPING=1 and exit 0 on SIGTERM. With NOTIFY_SOCKET set,
// `start` (without --foreground) runs in the foreground: the process systemd
// started is the daemon (its PID is in the lock file), as Type=notify needs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireTool } from './helpers';
import { control, listenForNotify as listen, lockPid, makePool, notifyMessages as messages, reapDaemons, signalAndWait, sleep, startForeground, waitFor, waitReady } from './daemon-fixtures';

const count = (raw: string, msg: string) => messages(raw).filter((m) => m === msg).length;

const haveSocat = requireTool('socat');
// 256 extents at low intensity: mid-pass for the whole test.
const pool = haveSocat ? makePool({ objects: [{ name: 'n', bytes: 4 << 20 }] }) : undefined;

test('Type=notify: READY=1, STATUS= with progress, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 and exit 0 on SIGTERM', async () => {
  if (!pool) return;
  const l = await listen();
  try {
    // Not --foreground: NOTIFY_SOCKET alone must keep `start` in the foreground.
    const fg = startForeground(pool, [], { NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '400000' }, false);
    const pid = fg.child.pid!;
    await waitFor('READY=1', () => l.text().includes('READY=1'), 20_000);
    assert.is(fg.child.exitCode, null, 'start did not return: it is the daemon');
    assert.is(lockPid(pool.root), pid, 'the spawned process holds the lock (MAINPID)');
    assert.is((await waitReady(pool, pid)).pid, pid);

    // Watchdog at 200 ms: at least 3 (about 7) in 1.5 s.
    const w0 = count(l.text(), 'WATCHDOG=1');
    await sleep(1500);
    const w1 = count(l.text(), 'WATCHDOG=1');
    assert.ok(w1 - w0 >= 3, `${w1 - w0} WATCHDOG=1 in 1.5 s`);
    assert.ok(w1 - w0 <= 12, `${w1 - w0} WATCHDOG=1 in 1.5 s: far more than every 200 ms`);

    const statuses = messages(l.text()).filter((m) => m.startsWith('STATUS='));
    assert.ok(statuses.some((s) => /^STATUS=Scrubbing \d+\.\d% \(\d+\/256 extents\)/.test(s)), `a STATUS= with progress among:\n${statuses.join('\n')}`);
    assert.ok(statuses.some((s) => /intensity low/.test(s)), 'STATUS= names the intensity');

    // Pausing shows in STATUS=, and the watchdog keeps going while paused.
    await control(pool.root, { cmd: 'pause' });
    await waitFor('STATUS=Paused', () => messages(l.text()).some((m) => /^STATUS=Paused at \d+\.\d%/.test(m)), 5000);
    const p0 = count(l.text(), 'WATCHDOG=1');
    await sleep(700);
    assert.ok(count(l.text(), 'WATCHDOG=1') - p0 >= 2, 'watchdog pings continue while paused');
    await control(pool.root, { cmd: 'resume' });

    assert.is(count(l.text(), 'STOPPING=1'), 0, 'no STOPPING=1 before the stop');
    const r = await signalAndWait(fg, 'SIGTERM');
    assert.is(r.status, 0, `exit status after SIGTERM; stderr:\n${r.stderr}`);
    await waitFor('STOPPING=1', () => count(l.text(), 'STOPPING=1') === 1, 3000);
    const all = messages(l.text());
    assert.is(all.indexOf('READY=1'), all.lastIndexOf('READY=1'), 'READY=1 once');
    assert.ok(all.indexOf('READY=1') < all.indexOf('STOPPING=1'), 'READY=1 before STOPPING=1');
    assert.match(r.stderr, /^<6>serving /m, 'log lines carry journald priorities');
    assert.not.match(r.stderr, /^\d{4}-\d\d-\d\dT/m, 'no timestamps of our own under systemd (journald adds them)');
  } finally {
    l.close();
  }
});

test('every STATUS= line is well formed (no empty progress before the pass is loaded)', async () => {
  if (!pool) return;
  const l = await listen();
  try {
    const fg = startForeground(pool, [], { NOTIFY_SOCKET: l.socket });
    await waitFor('READY=1 and two STATUS=', () => messages(l.text()).filter((m) => m.startsWith('STATUS=')).length >= 2, 20_000);
    await signalAndWait(fg, 'SIGTERM');
    for (const s of messages(l.text()).filter((m) => m.startsWith('STATUS='))) {
      assert.not.match(s, /^STATUS=Scrubbing ,/, `malformed: ${JSON.stringify(s)}`);
      assert.match(s, /^STATUS=(Scrubbing \d+\.\d% |Paused|Idle until |Stopping|Starting|Taking inventory|Preparing)/, `unexpected: ${JSON.stringify(s)}`);
    }
  } finally {
    l.close();
  }
});

test('no WATCHDOG=1 when WATCHDOG_PID names another process; none without WATCHDOG_USEC', async () => {
  if (!pool) return;
  for (const extra of [{ WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' }, {}]) {
    const l = await listen();
    try {
      const fg = startForeground(pool, [], { NOTIFY_SOCKET: l.socket, ...extra });
      await waitFor('READY=1', () => l.text().includes('READY=1'), 20_000);
      await sleep(800);
      assert.is(count(l.text(), 'WATCHDOG=1'), 0, JSON.stringify(extra));
      assert.is((await signalAndWait(fg, 'SIGTERM')).status, 0);
    } finally {
      l.close();
    }
  }
});

test('without NOTIFY_SOCKET nothing is sent and sd-notify is not even loaded', async () => {
  if (!pool) return;
  const fg = startForeground(pool, [], { NODE_DEBUG: 'module' });
  await waitReady(pool, fg.child.pid!);
  const r = await signalAndWait(fg, 'SIGTERM');
  assert.is(r.status, 0);
  assert.not.match(r.stderr, /sd-notify/, 'sd-notify must not be required outside systemd');
});

test.after(reapDaemons);

test.run();
