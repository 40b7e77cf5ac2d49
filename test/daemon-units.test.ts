// units/dfs-scrubd@.service and man/dfs-scrubd.8. The unit: a template on the
// escaped pool path, Type=notify with a watchdog, reload by SIGHUP, restart on
// failure, accepted by `systemd-analyze verify` and hardened to an exposure of
// at most 2.0; its ExecStart/ExecReload lines, run as systemd would run them,
// start a daemon that notifies READY=1 and reloads. The man page: clean for
// mandoc -Tlint -Wwarning, documents exactly the options and verbs of
// daemonProgram, the exit codes (3 included), files, signals, environment
// and the systemd integration.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliPath, repoRoot, requireTool, scratchDir } from './helpers';
import { daemonProgram } from '../src/cli/dfs-scrubd';
import { liveStatus, makePool, own, pidAlive, reapDaemons, sleep, waitFor, waitGone } from './daemon-fixtures';

const UNIT = path.join(repoRoot, 'units', 'dfs-scrubd@.service');
const PAGE = path.join(repoRoot, 'man', 'dfs-scrubd.8');
const MAX_EXPOSURE = 2.0;
const POOL_PATH = '/var/lib/dynamicfs/pool';

const unitText = () => fs.readFileSync(UNIT, 'utf8');
/** Values of a key in the [Service] (or any) section, in order. */
const values = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

/** The unit as `make install` writes it, instantiated for POOL_PATH, in a directory of its own. */
function installed(bindirStub = true): { dir: string; bindir: string; instance: string } {
  const root = scratchDir('dfs-scrubd-unit-');
  const bindir = path.join(root, 'bin');
  fs.mkdirSync(bindir);
  if (bindirStub) fs.writeFileSync(path.join(bindir, 'dfs-scrubd'), '#!/bin/sh\n', { mode: 0o755 });
  const dir = path.join(root, 'units');
  fs.mkdirSync(dir);
  // The same substitutions as the Makefile's install recipe.
  const text = unitText().replaceAll('@bindir@', bindir).replaceAll('@libdir@', path.join(root, 'lib')).replaceAll('@node@', process.execPath);
  fs.writeFileSync(path.join(dir, 'dfs-scrubd@.service'), text);
  const esc = spawnSync('systemd-escape', ['--path', '--template=dfs-scrubd@.service', POOL_PATH], { encoding: 'utf8' });
  const instance = esc.status === 0 ? esc.stdout.trim() : 'dfs-scrubd@var-lib-dynamicfs-pool.service';
  assert.is(instance, 'dfs-scrubd@var-lib-dynamicfs-pool.service');
  fs.copyFileSync(path.join(dir, 'dfs-scrubd@.service'), path.join(dir, instance));
  return { dir, bindir, instance };
}

const analyze = (cwd: string, args: string[]) => spawnSync('systemd-analyze', args, { cwd, encoding: 'utf8', timeout: 60_000 });

test('the unit: template on %f, Type=notify, watchdog, reload, restart, docs, idle priority', () => {
  const t = unitText();
  assert.equal(values(t, 'Type'), ['notify']);
  assert.equal(values(t, 'NotifyAccess'), ['main']);
  const wd = values(t, 'WatchdogSec');
  assert.is(wd.length, 1);
  assert.match(wd[0], /^\d+s$|^\d+min$/);
  assert.match(t, /^ExecStart=@bindir@\/dfs-scrubd start --pool %f( |$)/m);
  assert.not.match(t, /--foreground/, 'no --foreground: NOTIFY_SOCKET keeps start in the foreground');
  assert.equal(values(t, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
  for (const stop of values(t, 'ExecStop')) assert.match(stop, /^@bindir@\/dfs-scrubd stop --pool %f$/);
  assert.equal(values(t, 'Restart'), ['on-failure']);
  assert.match(t, /^Documentation=.*man:dfs-scrubd\(8\)/m);
  assert.match(t, /^RequiresMountsFor=%f$/m);
  assert.equal(values(t, 'IOSchedulingClass'), ['idle']);
  assert.equal(values(t, 'Nice'), ['10']);
  assert.equal(values(t, 'RuntimeDirectory'), ['dynamicfs'], 'the socket fallback directory of socket-path.ts for root');
  assert.equal(values(t, 'RestrictAddressFamilies'), ['AF_UNIX']);
  assert.equal(values(t, 'PrivateNetwork'), ['yes']);
  assert.equal(values(t, 'MemoryDenyWriteExecute'), ['no'], "Node's JIT");
  assert.ok(values(t, 'ReadWritePaths').some((v) => /^-?%f$/.test(v)), 'the pool is writable');
  assert.equal(values(t, 'ProtectSystem'), ['strict']);
  for (const m of t.matchAll(/@(\w+)@/g)) assert.ok(['bindir', 'libdir', 'node'].includes(m[1]), `make install does not substitute @${m[1]}@`);
  assert.match(t, /^\[Install\]\nWantedBy=multi-user\.target$/m);
});

test('systemd-analyze verify accepts the instantiated unit, without a warning', () => {
  if (!requireTool('systemd-analyze')) return;
  const u = installed();
  const r = analyze(u.dir, ['verify', '--man=no', u.instance]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is((r.stdout + r.stderr).trim(), '', 'no warnings');
  // And the literal instance name of the brief's example.
  fs.copyFileSync(path.join(u.dir, 'dfs-scrubd@.service'), path.join(u.dir, 'dfs-scrubd@tmp-pool.service'));
  const r2 = analyze(u.dir, ['verify', '--man=no', 'dfs-scrubd@tmp-pool.service']);
  assert.is(r2.status, 0, r2.stdout + r2.stderr);
});

test('systemd-analyze verify notices a missing executable (the check has teeth)', () => {
  if (!requireTool('systemd-analyze')) return;
  const u = installed(false);
  const r = analyze(u.dir, ['verify', '--man=no', u.instance]);
  assert.ok(r.status !== 0 || /dfs-scrubd/.test(r.stdout + r.stderr), 'verify complains about the missing dfs-scrubd');
});

test(`hardened: systemd-analyze security --offline=true exposure <= ${MAX_EXPOSURE}`, () => {
  if (!requireTool('systemd-analyze')) return;
  const u = installed();
  const r = analyze(u.dir, ['security', '--offline=true', '--no-pager', u.instance]);
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  assert.ok(Number(m![1]) <= MAX_EXPOSURE, `exposure ${m![1]}:\n${r.stdout}`);
});

test('the unit\'s ExecStart and ExecReload, run as systemd runs them, start a notifying daemon that reloads and stops with 0', async () => {
  if (!requireTool('socat')) return;
  const pool = makePool({ objects: [{ name: 'u', bytes: 1 << 20 }] });
  const dir = scratchDir('dfs-scrubd-exec-');
  // @bindir@/dfs-scrubd as make install writes it: a /bin/sh wrapper that execs node.
  const bindir = path.join(dir, 'bin');
  fs.mkdirSync(bindir);
  fs.writeFileSync(path.join(bindir, 'dfs-scrubd'), `#!/bin/sh\nexec '${process.execPath}' '${cliPath('dfs-scrubd')}' "$@"\n`, { mode: 0o755 });
  const t = unitText().replaceAll('@bindir@', bindir);
  const notify = path.join(dir, 'notify.sock');
  const listener = spawn('socat', ['-u', `UNIX-RECV:${notify}`, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let got = '';
  listener.stdout!.setEncoding('utf8').on('data', (s: string) => (got += s));
  try {
    await waitFor('notify socket', () => fs.existsSync(notify), 5000, 20);
    // %f -> the pool; $DFS_SCRUBD_ARGS unset expands to nothing (as systemd does).
    const argv = values(t, 'ExecStart')[0].replaceAll('%f', pool.root).replace(/ ?\$DFS_SCRUBD_ARGS/, '').split(' ');
    const env = { ...process.env, NOTIFY_SOCKET: notify, WATCHDOG_USEC: String(60e6), INVOCATION_ID: 'f'.repeat(32), DFS_PSI_IO_FILE: pool.psi, RUNTIME_DIRECTORY: path.join(dir, 'run') };
    const main = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    own(main.pid!);
    let stderr = '';
    main.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((r) => main.once('exit', (c) => r(c)));
    await waitFor('READY=1', () => got.includes('READY=1'), 20_000);
    assert.is((await liveStatus(pool.root))?.pid, main.pid, 'MAINPID (the wrapper exec()s node) is the daemon');
    const settings = path.join(pool.root, '.dynamicfs', 'daemon-settings.json');
    fs.writeFileSync(settings, JSON.stringify({ ...JSON.parse(fs.readFileSync(settings, 'utf8')), intensity: 'medium' }));
    const reload = values(t, 'ExecReload')[0].replace('$MAINPID', String(main.pid)).split(' ');
    assert.is(spawnSync(reload[0], reload.slice(1)).status, 0);
    await waitFor('intensity medium after ExecReload', async () => (await liveStatus(pool.root))?.intensity === 'medium', 3000);
    main.kill('SIGTERM'); // systemctl stop
    assert.is(await exited, 0, stderr);
    await sleep(100);
    assert.match(got, /STOPPING=1/);
    await waitGone(main.pid!);
    assert.not.ok(pidAlive(main.pid!));
  } finally {
    listener.kill('SIGTERM');
  }
});

// ---------------------------------------------------------------------------
// The man page

const page = () => fs.readFileSync(PAGE, 'utf8');
function section(text: string, name: string): string {
  const at = text.indexOf(`\n.Sh ${name}\n`);
  assert.ok(at >= 0, `section ${name}`);
  const end = text.indexOf('\n.Sh ', at + 1);
  return text.slice(at, end < 0 ? undefined : end);
}

test('man/dfs-scrubd.8 is clean for mandoc -Tlint -Wwarning', () => {
  if (!requireTool('mandoc')) return;
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', PAGE], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is((r.stdout + r.stderr).trim(), '');
});

test('the man page documents exactly the options of daemonProgram, and every verb', () => {
  const flags = new Set<string>(['help', 'version']); // sade's own
  for (const o of [...daemonProgram.common, ...daemonProgram.commands.flatMap((c) => c.options)]) flags.add(o.flag.replace(/^.*--/, ''));
  const opts = section(page(), 'OPTIONS');
  const documented = new Set([...opts.matchAll(/^\.It Fl .*$/gm)].flatMap((m) => [...m[0].matchAll(/Fl -([\w-]+)/g)].map((f) => f[1])));
  for (const f of flags) assert.ok(documented.has(f), `OPTIONS documents --${f}`);
  for (const f of documented) assert.ok(flags.has(f), `--${f} in the man page is an option of dfs-scrubd`);
  assert.match(opts, /^\.It Fl -help , Fl -version$/m);
  const synopsis = section(page(), 'SYNOPSIS');
  for (const f of flags) if (f !== 'help' && f !== 'version') assert.match(synopsis, new RegExp(`Fl -${f}\\b`), `SYNOPSIS shows --${f}`);
  const verbs = daemonProgram.commands.map((c) => c.usage.split(' ')[0]);
  const desc = section(page(), 'DESCRIPTION');
  const documentedVerbs = [...desc.matchAll(/^\.It Cm ([\w-]+)$/gm)].map((m) => m[1]);
  assert.equal([...documentedVerbs].sort(), [...verbs].sort(), 'one .It Cm per verb');
});

test('the man page: exit codes (3 included), files, signals, environment, systemd integration', () => {
  const text = page();
  const exit = section(text, 'EXIT STATUS');
  assert.equal([...exit.matchAll(/^\.It (\d+)$/gm)].map((m) => Number(m[1])), [0, 3, 8, 16]);
  const files = section(text, 'FILES');
  for (const f of ['scrub-state.json', 'daemon-settings.json', 'daemon.json', 'scrub.lock', 'scrubd.sock', 'scrubd.log']) assert.match(files, new RegExp(f.replace('.', '\\.')), `FILES: ${f}`);
  const signals = section(text, 'SIGNALS');
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) assert.match(signals, new RegExp(`Dv ${s}`));
  const env = section(text, 'ENVIRONMENT');
  for (const e of ['NOTIFY_SOCKET', 'INVOCATION_ID', 'WATCHDOG_USEC', 'RUNTIME_DIRECTORY', 'DFS_PSI_IO_FILE']) assert.match(env, new RegExp(`Ev ${e}`));
  const sd = section(text, 'SYSTEMD INTEGRATION');
  for (const w of ['dfs-scrubd@.service', 'Type=notify', 'READY=1', 'STATUS=', 'WATCHDOG=1', 'STOPPING=1', 'systemd-escape --path']) assert.ok(sd.includes(w), `SYSTEMD INTEGRATION mentions ${w}`);
  // The intensity table is the guide's.
  assert.match(text, /^\.It low Ta 100 ms Ta 1 Ta 10$/m);
  assert.match(text, /^\.It medium Ta 50 ms Ta 5 Ta 5$/m);
  assert.match(text, /^\.It high Ta 10 ms Ta 20 Ta 1$/m);
});

test.after(reapDaemons);

test.run();
