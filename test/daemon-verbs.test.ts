// dfs-scrubd's verbs as an operator uses them from a shell: start detaches and
// prints a live PID; status (text and --json) shows the guide's lines; pause
// really stops the pass and resume restarts it; set-intensity takes effect;
// stop ends the daemon and removes its socket; every verb without a daemon
// exits 3 with one line; a second start exits 8 naming the holder; a daemon
// killed with SIGKILL leaves a lock and socket that the next start recovers.
// The guide's commands (Background Daemon, Monitoring, Emergency Response,
// Troubleshooting, Systemd Service) run as written through `dynamicfs`.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, scratchDir } from './helpers';
import {
  control,
  daemonEnv,
  flipPayloadByte,
  liveStatus,
  lockFile,
  lockPid,
  logFile,
  makePool,
  reapDaemons,
  own,
  pidAlive,
  readState,
  settingsFile,
  shardsByExtent,
  sleep,
  startDetached,
  startForeground,
  stopDaemon,
  TestPool,
  waitFor,
  waitGone,
  waitReaped,
  cliBackground,
  waitReady,
} from './daemon-fixtures';

import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/cli/node-flags';

const sockOf = (p: TestPool) => path.join(p.root, '.dynamicfs', 'scrubd.sock');

// 256 extents of 16 KiB, rs:4+2: a low-intensity pass takes ~25 s, longer than
// any test here waits, so the daemon is always mid-pass.
const pool = makePool({ objects: [{ name: 'data', bytes: 4 << 20 }] });
const env = daemonEnv(pool);
const scrubd = (args: string[], extra: Record<string, string | undefined> = {}) => cli('dfs-scrubd', [args[0], '--pool', pool.root, ...args.slice(1)], { env: { ...env, ...extra } });

let pid = 0;

test('start detaches: prints the PID of a live daemon in its own session and returns 0 quickly', async () => {
  // Started as a shell with a CA bundle for node would start it (node-flags.ts: UNSET_ENV).
  const s = startDetached(pool, ['--intensity', 'low'], { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' });
  assert.is(s.result.status, 0, s.result.stderr);
  assert.match(s.result.stdout, /^\d+\n$/, 'stdout is the PID alone');
  assert.ok(s.ms < 10_000, `start took ${s.ms} ms`);
  pid = s.pid;
  assert.ok(pidAlive(pid), `PID ${pid} is alive`);
  assert.is(lockPid(pool.root), pid, 'the printed PID holds the pool lock');
  // Detached: a session leader of its own, not a child of the test any more.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  assert.is(Number(fields[3]), pid, 'the daemon leads its own session (setsid)');
  assert.is.not(Number(fields[1]), process.pid, 'not our child');
  const st = await liveStatus(pool.root);
  assert.is(st?.pid, pid, 'it answers on the socket at once');
  assert.ok(fs.existsSync(logFile(pool.root)), 'a detached daemon logs to POOL/.dynamicfs/scrubd.log');
  // Its node runs with the daemon's memory flags (src/cli/node-flags.ts).
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  for (const f of DAEMON_NODE_FLAGS) assert.ok(argv.indexOf(f) > 0 && argv.indexOf(f) < argv.findIndex((a) => a.endsWith('dfs-scrubd.js')), `node ${f} before the script: ${argv.join(' ')}`);
  // ...and with glibc's arenas and mapping threshold set, unless this environment set them (it does not here).
  const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(environ.includes(`${k}=${process.env[k] ?? v}`), `${k} in the daemon's environment: ${environ.filter((e) => e.startsWith('MALLOC')).join(' ') || 'none'}`);
  assert.ok(Object.keys(DAEMON_ENV).includes('MALLOC_ARENA_MAX') && Object.keys(DAEMON_ENV).includes('MALLOC_MMAP_THRESHOLD_'));
  // ...and without the variable that has node parse a CA bundle at every start.
  assert.equal(environ.filter((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')), [], "no NODE_EXTRA_CA_CERTS in the daemon's environment");
});

test('the control socket is a socket of mode 0600', () => {
  const st = fs.lstatSync(sockOf(pool));
  assert.ok(st.isSocket());
  assert.is((st.mode & 0o777).toString(8), '600');
});

test("status: the guide's lines, plus progress, intensity, auto-repair and last pass; exit 0", async () => {
  await waitFor('some progress', async () => ((await liveStatus(pool.root))?.counters.extentsScanned ?? 0) > 0);
  const r = scrubd(['status']);
  assert.is(r.status, 0, r.stderr);
  const t = r.stdout;
  for (const re of [
    /^Scrub Daemon Status$/m,
    /^==================$/m,
    /^Status: Running$/m,
    /^Running: true$/m,
    /^Paused: {2}false$/m,
    /^Metrics:$/m,
    /^ {2}Extents scanned: +[1-9]\d*$/m,
    /^ {2}Issues found: +\d+$/m,
    /^ {2}Repairs triggered: +\d+$/m,
    /^ {2}I\/O bytes: +[1-9]\d*$/m,
    /Progress: +\d+\.\d% \(\d+\/256 extents/,
    /Intensity: +low/,
    /Auto-repair: +true/,
    /Last completed: +never/,
    new RegExp(`PID: +${pid}`),
  ]) assert.match(t, re);
  assert.not.match(t, /\x1b\[/, 'no colour codes in plain output');
});

test('status --json: paused, intensity, running and the counters', () => {
  const r = scrubd(['status', '--json']);
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.paused, false);
  assert.is(j.intensity, 'low');
  assert.is(j.running, true);
  assert.is(j.pid, pid);
  assert.is(typeof j.counters.extentsScanned, 'number');
  assert.is(j.pass.extentsTotal, 256);
});

test('pause: status says paused and the pass really stops (live counters and state file)', async () => {
  const r = scrubd(['pause']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().split('\n').length === 1, `one line: ${r.stdout}`);
  const t = scrubd(['status']);
  assert.match(t.stdout, /^Paused: {2}true$/m);
  assert.match(t.stdout, /^Status: Paused$/m);
  assert.is(JSON.parse(scrubd(['status', '--json']).stdout).paused, true);
  assert.is(JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')).paused, true, 'paused is persisted');
  await sleep(700); // the operation in hand finishes
  const a = (await liveStatus(pool.root))!;
  const fa = readState(pool.root);
  await sleep(2500);
  const b = (await liveStatus(pool.root))!;
  const fb = readState(pool.root);
  assert.equal(b.counters, a.counters, 'live counters frozen while paused');
  assert.is(b.pass?.extentsDone, a.pass?.extentsDone);
  assert.is(fb?.current?.extentsDone, fa?.current?.extentsDone, 'state file extentsDone frozen');
  assert.is(fb?.counters.bytesRead, fa?.counters.bytesRead, 'state file bytesRead frozen');
});

test('resume: the pass advances again', async () => {
  const before = (await liveStatus(pool.root))!.counters.extentsScanned;
  const r = scrubd(['resume']);
  assert.is(r.status, 0, r.stderr);
  await waitFor('progress after resume', async () => ((await liveStatus(pool.root))?.counters.extentsScanned ?? 0) > before + 2, 5000);
  const s = (await liveStatus(pool.root))!;
  assert.is(s.paused, false);
  assert.is(s.phase, 'scrubbing');
});

test('set-intensity medium: status shows it, it is persisted, and the pass speeds up', async () => {
  const r = scrubd(['set-intensity', '--intensity', 'medium']);
  assert.is(r.status, 0, r.stderr);
  assert.match(scrubd(['status']).stdout, /Intensity: +medium/);
  assert.is(JSON.parse(scrubd(['status', '--json']).stdout).intensity, 'medium');
  assert.is(JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')).intensity, 'medium');
  // low: 1 extent per 100 ms; medium: 5 per 50 ms. Over 1 s medium does many more than 10.
  const a = (await liveStatus(pool.root))!.counters.extentsScanned;
  await sleep(1000);
  const b = (await liveStatus(pool.root))!.counters.extentsScanned;
  assert.ok(b - a > 15, `medium scanned ${b - a} extents in 1 s`);
  assert.is(scrubd(['set-intensity', '--intensity', 'low']).status, 0);
});

test('set-intensity: a bad level or a missing --intensity is a usage error (16)', () => {
  const bad = scrubd(['set-intensity', '--intensity', 'extreme']);
  assert.is(bad.status, 16, bad.stderr);
  assert.match(bad.stderr, /--intensity/);
  const none = scrubd(['set-intensity']);
  assert.is(none.status, 16, none.stderr);
});

test('a second start exits 8 and names the PID holding the pool', () => {
  const s = startDetached(pool);
  assert.is(s.result.status, 8, s.result.stdout + s.result.stderr);
  assert.match(s.result.stderr, new RegExp(`PID ${pid}\\b`));
  assert.is(s.result.stdout, '');
  assert.is(lockPid(pool.root), pid, 'the first daemon still holds the pool');
});

test('stop: exit 0, the daemon is gone, socket and lock removed', async () => {
  const r = scrubd(['stop']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`PID ${pid}`));
  assert.not.ok(pidAlive(pid), 'stop returns only once the daemon has exited');
  assert.not.ok(fs.existsSync(sockOf(pool)), 'socket removed');
  assert.not.ok(fs.existsSync(lockFile(pool.root)), 'lock released');
  const st = readState(pool.root)!;
  assert.ok(st.current && st.current.cursor, 'the interrupted pass is saved with its cursor');
});

test('status without a daemon: exit 3 and the persisted state', () => {
  const r = scrubd(['status']);
  assert.is(r.status, 3, r.stderr);
  assert.match(r.stdout, /^Status: Stopped$/m);
  assert.match(r.stdout, /^Running: false$/m);
  assert.match(r.stdout, /^Paused: {2}false$/m);
  const st = readState(pool.root)!;
  assert.match(r.stdout, new RegExp(`Extents scanned: +${st.counters.extentsScanned}$`, 'm'));
  assert.match(r.stdout, new RegExp(`I/O bytes: +${st.counters.bytesRead}$`, 'm'));
  assert.match(r.stdout, /Intensity: +low/);
  assert.match(r.stdout, new RegExp(`Progress: .*\\(${st.current!.extentsDone}/256 extents`));
  const j = cli('dfs-scrubd', ['status', '--pool', pool.root, '--json'], { env });
  assert.is(j.status, 3);
  const doc = JSON.parse(j.stdout);
  assert.is(doc.running, false);
  assert.is(doc.status, 'stopped');
  assert.is(doc.counters.extentsScanned, st.counters.extentsScanned);
});

test('pause, resume, set-intensity and stop without a daemon: exit 3 with one line', () => {
  for (const args of [['pause'], ['resume'], ['stop'], ['set-intensity', '--intensity', 'high']]) {
    const r = scrubd(args);
    assert.is(r.status, 3, `${args[0]}: ${r.stderr}`);
    assert.is(r.stdout, '', `${args[0]} prints nothing on stdout`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `${args[0]}: one line: ${r.stderr}`);
    assert.match(lines[0], /no scrub daemon is running/);
    assert.match(lines[0], new RegExp(pool.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  }
  assert.is(JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')).intensity, 'low', 'a verb without a daemon changes nothing');
});

test('a daemon killed with SIGKILL leaves lock and socket; the next start recovers them and resumes the pass', async () => {
  const before = readState(pool.root)!.current!;
  const a = startDetached(pool);
  assert.is(a.result.status, 0, a.result.stderr);
  const passId = (await liveStatus(pool.root))!.pass?.id;
  assert.is(passId, before.id, 'start resumes the stopped pass');
  process.kill(a.pid, 'SIGKILL');
  await waitReaped(a.pid); // see the zombie test below for the unreaped case
  assert.ok(fs.existsSync(lockFile(pool.root)), 'lock left behind');
  assert.ok(fs.existsSync(sockOf(pool)), 'socket left behind');
  assert.is(lockPid(pool.root), a.pid);
  // status and verbs: no daemon (the socket refuses), exit 3, not a hang or an 8.
  assert.is(scrubd(['status']).status, 3);
  assert.is(scrubd(['pause']).status, 3);
  const b = startDetached(pool);
  assert.is(b.result.status, 0, b.result.stderr);
  assert.ok(pidAlive(b.pid));
  assert.is(lockPid(pool.root), b.pid);
  assert.is(((fs.lstatSync(sockOf(pool)).mode) & 0o777).toString(8), '600');
  assert.is((await liveStatus(pool.root))!.pass?.id, before.id, 'still the same pass');
  assert.is(stopDaemon(pool).status, 0);
  await waitGone(b.pid);
});

test('a daemon killed with SIGKILL but not yet reaped (a zombie) does not block the next start', async () => {
  // A dead process whose parent has not waited for it yet still answers
  // kill(pid, 0). Here the parent is this test, whose event loop is blocked in
  // spawnSync while `start` runs, so the zombie is there for the whole start.
  const fg = startForeground(pool);
  await waitReady(pool, fg.child.pid!);
  const zpid = fg.child.pid!;
  fg.child.kill('SIGKILL');
  // No await from here on: the event loop must not run (it would reap the child).
  const t0 = Date.now();
  while (Date.now() - t0 < 300) {
    /* let the kill land */
  }
  const s = startDetached(pool); // synchronous: the zombie is not reaped meanwhile
  assert.is(s.result.status, 0, `start after a SIGKILLed daemon (PID ${zpid}, a zombie): ${s.result.stderr}`);
  assert.is(lockPid(pool.root), s.pid);
  assert.is(stopDaemon(pool).status, 0);
});

test('starts at once: exactly one daemon; every other start exits 8 naming its PID', async () => {
  // Racy by nature: 4 rounds of 3 simultaneous starts. A loser's message must
  // name the winner, whatever else the winner has logged meanwhile (on an empty
  // pool a daemon logs a finished pass as often as it can: see daemon-pacing).
  const p = makePool({ objects: [] });
  const e = daemonEnv(p);
  for (let round = 0; round < 4; round++) {
    const rs = await Promise.all([0, 1, 2].map(() => cliBackground('dfs-scrubd', ['start', '--pool', p.root], e)));
    for (const r of rs) if (r.status === 0) own(Number(r.stdout.trim()));
    const winners = rs.filter((r) => r.status === 0);
    assert.is(winners.length, 1, `round ${round}: exit codes ${rs.map((r) => r.status)}: ${rs.map((r) => r.stderr).join('')}`);
    const wpid = Number(winners[0].stdout.trim());
    assert.ok(pidAlive(wpid));
    assert.is(lockPid(p.root), wpid);
    assert.is((await liveStatus(p.root))!.pid, wpid);
    for (const l of rs.filter((r) => r.status !== 0)) {
      assert.is(l.status, 8, l.stderr);
      assert.is(l.stderr.trim().split('\n').length, 1, `one line: ${l.stderr}`);
      assert.match(l.stderr, new RegExp(`PID ${wpid}\\b`), `round ${round}: the loser names the daemon holding the pool (PID ${wpid}): ${l.stderr}`);
    }
    assert.is(stopDaemon(p).status, 0);
  }
});

test('--socket-group: the socket is mode 0660 and owned by that group', async () => {
  const p = makePool({ objects: [{ name: 'grp', bytes: 64 << 10 }] });
  const gid = process.getgid!();
  const s = startDetached(p, ['--socket-group', String(gid)]);
  assert.is(s.result.status, 0, s.result.stderr);
  const st = fs.lstatSync(sockOf(p));
  assert.is((st.mode & 0o777).toString(8), '660');
  assert.is(st.gid, gid);
  assert.is(stopDaemon(p).status, 0);
});

test('a pool path too long for a socket: the socket lives in RUNTIME_DIRECTORY, mode 0600, and every verb finds it', async () => {
  const dir = scratchDir('dfs-daemon-long-');
  const deep = path.join(dir, 'a-rather-long-directory-name-for-a-pool'.repeat(2), 'and-another-level-to-pass-108-bytes');
  fs.mkdirSync(deep, { recursive: true });
  const p = makePool({ dir: deep, objects: [{ name: 'x', bytes: 64 << 10 }] });
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime);
  const e = { RUNTIME_DIRECTORY: runtime };
  assert.ok(Buffer.byteLength(path.join(p.root, '.dynamicfs', 'scrubd.sock')) > 107);
  const s = startDetached(p, ['--pass-interval', '1h'], e);
  assert.is(s.result.status, 0, s.result.stderr);
  const socks = fs.readdirSync(runtime).filter((f) => f.endsWith('.sock'));
  assert.is(socks.length, 1, `one socket in ${runtime}: ${socks}`);
  assert.is((fs.lstatSync(path.join(runtime, socks[0])).mode & 0o777).toString(8), '600');
  const run = (args: string[]) => cli('dfs-scrubd', [args[0], '--pool', p.root, ...args.slice(1)], { env: daemonEnv(p, e) });
  assert.is(run(['status']).status, 0);
  assert.is(run(['pause']).status, 0);
  assert.is((await control(p.root, { cmd: 'status' }, { RUNTIME_DIRECTORY: runtime }))?.paused, true);
  assert.is(run(['stop']).status, 0);
  assert.not.ok(pidAlive(s.pid));
  assert.equal(fs.readdirSync(runtime).filter((f) => f.endsWith('.sock')), [], 'socket removed');
});

// ---------------------------------------------------------------------------
// The guide, verbatim: `cargo run --release --` replaced by `dynamicfs` and
// /tmp/pool by a scratch pool (a fixed /tmp/pool would collide with other tests).

const GUIDE = {
  backgroundDaemon: [
    'scrub-daemon start --pool /tmp/pool --intensity low',
    'scrub-daemon status --pool /tmp/pool',
    'scrub-daemon pause --pool /tmp/pool',
    'scrub-daemon resume --pool /tmp/pool',
    'scrub-daemon set-intensity --pool /tmp/pool --intensity medium',
    'scrub-daemon stop --pool /tmp/pool',
  ],
  monitoring: ['scrub-daemon status --pool /tmp/pool', 'scrub-daemon status --pool /tmp/pool --json'],
  emergency: [
    'scrub --pool /tmp/pool --repair',
    'status --pool /tmp/pool',
    'scrub-daemon start --pool /tmp/pool --intensity high',
    // watch -n 5 '...': one round of what watch runs
    'scrub-daemon status --pool /tmp/pool',
  ],
  wontStart: ['scrub-daemon status --pool /tmp/pool', 'scrub-daemon stop --pool /tmp/pool'],
  highImpact: ['scrub-daemon set-intensity --pool /tmp/pool --intensity low', 'scrub-daemon pause --pool /tmp/pool'],
  repairsFailing: ['probe-disks --pool /tmp/pool', 'status --pool /tmp/pool'],
  systemdExecStart: 'scrub-daemon start --pool /var/lib/dynamicfs/pool --intensity low',
  systemdExecStop: 'scrub-daemon stop --pool /var/lib/dynamicfs/pool',
};

function guide(p: TestPool, line: string, extra: Record<string, string | undefined> = {}) {
  const args = line.replaceAll('/tmp/pool', p.root).replaceAll('/var/lib/dynamicfs/pool', p.root).split(' ');
  const r = cli('dynamicfs', args, { env: daemonEnv(p, extra), timeout: 60_000 });
  if (args[0] === 'scrub-daemon' && args[1] === 'start' && r.status === 0) own(Number(r.stdout.trim()));
  return r;
}

test('guide: Background Daemon, in order', async () => {
  const p = makePool({ objects: [{ name: 'g', bytes: 2 << 20 }] });
  const [start, status, pause, resume, setI, stop] = GUIDE.backgroundDaemon;
  const s = guide(p, start);
  assert.is(s.status, 0, s.stderr);
  const gpid = Number(s.stdout.trim());
  assert.ok(pidAlive(gpid));
  const st = guide(p, status);
  assert.is(st.status, 0, st.stderr);
  assert.match(st.stdout, /^Status: Running$/m);
  assert.is(guide(p, pause).status, 0);
  assert.is((await liveStatus(p.root))!.paused, true);
  assert.is(guide(p, resume).status, 0);
  assert.is((await liveStatus(p.root))!.paused, false);
  assert.is(guide(p, setI).status, 0);
  assert.is((await liveStatus(p.root))!.intensity, 'medium');
  const sp = guide(p, stop);
  assert.is(sp.status, 0, sp.stderr);
  assert.not.ok(pidAlive(gpid));
});

test('guide: Monitoring (text and JSON) and the example output lines', async () => {
  const p = makePool({ objects: [{ name: 'm', bytes: 1 << 20 }] });
  assert.is(guide(p, GUIDE.backgroundDaemon[0]).status, 0);
  const t = guide(p, GUIDE.monitoring[0]);
  assert.is(t.status, 0, t.stderr);
  const example = ['Scrub Daemon Status', '==================', 'Status: Running', 'Running: true', 'Paused:  false', '', 'Metrics:'];
  assert.equal(t.stdout.split('\n').slice(0, example.length), example, 'starts exactly like the guide example');
  for (const label of ['Extents scanned:    ', 'Issues found:       ', 'Repairs triggered:  ', 'I/O bytes:          ']) {
    assert.match(t.stdout, new RegExp(`^  ${label}\\d+$`, 'm'), `aligned like the guide: '${label}'`);
  }
  const j = guide(p, GUIDE.monitoring[1]);
  assert.is(j.status, 0, j.stderr);
  const doc = JSON.parse(j.stdout);
  assert.is(doc.running, true);
  assert.is(doc.paused, false);
  assert.is(guide(p, GUIDE.wontStart[1]).status, 0);
});

test('guide: Emergency Response on a damaged pool, then Troubleshooting', async () => {
  const p = makePool({ objects: [{ name: 'e', bytes: 1 << 20 }] });
  const shards = [...shardsByExtent(p.root).values()];
  flipPayloadByte(shards[0].get(0)!);
  fs.rmSync(shards[1].get(3)!);
  const [scrub, status, start, watchStatus] = GUIDE.emergency;
  const s = guide(p, scrub);
  assert.is(s.status, 1, `scrub --repair repairs and exits 1: ${s.stdout}${s.stderr}`);
  const st = guide(p, status);
  assert.is(st.status, 0, st.stdout + st.stderr);
  const d = guide(p, start);
  assert.is(d.status, 0, d.stderr);
  const dpid = Number(d.stdout.trim());
  assert.is((await liveStatus(p.root))!.intensity, 'high');
  const w = guide(p, watchStatus);
  assert.is(w.status, 0);
  assert.match(w.stdout, /Intensity: +high/);
  // Troubleshooting / Daemon Won't Start: status shows the running one; stop it.
  const ws = guide(p, GUIDE.wontStart[0]);
  assert.is(ws.status, 0);
  assert.match(ws.stdout, new RegExp(`PID: +${dpid}`));
  assert.is(guide(p, GUIDE.wontStart[1]).status, 0);
  assert.not.ok(pidAlive(dpid));
  // High I/O Impact: needs a running daemon.
  assert.is(guide(p, GUIDE.backgroundDaemon[0]).status, 0);
  assert.is(guide(p, GUIDE.highImpact[0]).status, 0);
  assert.is((await liveStatus(p.root))!.intensity, 'low');
  assert.is(guide(p, GUIDE.highImpact[1]).status, 0);
  assert.is((await liveStatus(p.root))!.paused, true);
  // Repairs Failing: probe-disks and status work while the daemon runs.
  for (const line of GUIDE.repairsFailing) {
    const r = guide(p, line);
    assert.is(r.status, 0, `${line}: ${r.stdout}${r.stderr}`);
  }
  assert.is(guide(p, GUIDE.wontStart[1]).status, 0);
});

test('guide: Systemd Service (Type=simple): under systemd `start` stays in the foreground; ExecStop stops it with 0', async () => {
  const p = makePool({ objects: [{ name: 's', bytes: 1 << 20 }] });
  // systemd sets INVOCATION_ID for every service; Type=simple sets no NOTIFY_SOCKET.
  const fg = startForeground(p, GUIDE.systemdExecStart.split(' ').slice(4), { INVOCATION_ID: '0123456789abcdef0123456789abcdef' }, false, 'dynamicfs');
  await waitReady(p, fg.child.pid!);
  assert.is(fg.child.exitCode, null, 'ExecStart process is the daemon, still running');
  assert.is(lockPid(p.root), fg.child.pid, 'the lock names the process systemd started (MAINPID)');
  // Asynchronously: systemd reaps its main process while ExecStop runs, and so must we.
  const stop = await cliBackground('dynamicfs', GUIDE.systemdExecStop.replaceAll('/var/lib/dynamicfs/pool', p.root).split(' '), daemonEnv(p));
  assert.is(stop.status, 0, stop.stderr);
  const r = await fg.done;
  assert.is(r.status, 0, `daemon exit: ${r.stderr}`);
  assert.match(r.stderr, /^<6>/m, 'journald priority prefixes under systemd');
});

test.after(() => {
  if (pid && pidAlive(pid)) stopDaemon(pool);
  reapDaemons();
});

test.run();
