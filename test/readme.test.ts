// Every command README.md shows is exercised, so the README cannot drift from
// the tools. The ```bash blocks are read in order and each command line is
// classified:
//
//   dynamicfs ... / dfs-* ...   run for real, in README order, against a scratch
//                               pool (/tmp/pool and /var/lib/dynamicfs/pool are
//                               the same scratch pool); `sudo` is dropped
//   watch ... 'CMD'             CMD is run once
//   curl URL                    fetched from the metrics server the README started
//                               (/metrics, /health, and / the status page)
//   systemctl ...               not run: every unit it names must be shipped in
//                               units/ (templates by their @ name), or be the
//                               guide's own unit the README defines
//   make ...                    not run: the target must exist in the Makefile
//
//   mkdir [-p] DIR...           made in the scratch area (paths substituted as above)
//
// Anything else fails: teach this file about it, or keep it out of ```bash.
//
// One block is not run here: the ```bash block right after the line
// `<!-- drill: replace-disk -->` (replacing a dead disk: mkfs.ext4, mount, a
// pool at /srv/pool over drives at /mnt/disk0..5) needs real drives and root.
// test/real-drives.test.ts runs it verbatim on loop-mounted filesystems at
// those very paths, /dev/sdX standing for a loop device. A test below checks
// that the marked block exists and that test/real-drives.test.ts names it, so
// the skip cannot hide a block nobody runs; any other `<!-- drill: NAME -->`
// marker fails until DRILLS says which test runs it.
// The ```ini unit's ExecStart=/ExecStop= commands run like the others, the
// ```yaml Prometheus config passes `promtool check config` with the shipped
// alert and recording rules, and the ```yaml Grafana provisioning names the
// directory the dashboard is installed in.
//
// Commands that would change the system are redirected into the scratch area:
// scrub-schedule gets --unit-dir/--config-dir (no systemctl is run, no file
// written under /etc) unless it asks for --backend cron; the metrics server
// listens on a free port. Commands that run until stopped (metrics-server,
// `scrub-schedule run`) are started, checked, then stopped with SIGTERM; a
// daemon the README starts is stopped at the end. A command passes when it
// exits 0, 1 or 4 (3 for the daemon's control verbs: no daemon), or exactly
// the code its comment gives as "(exit N:" or "(exit N)".

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliAsync, repoRoot, requireTool, scratchDir } from './helpers';

const README = path.join(repoRoot, 'README.md');
const text = fs.readFileSync(README, 'utf8');

// ---------------------------------------------------------------------------
// Reading the README

interface Block {
  lang: string;
  /** 1-based line number of the block's first content line. */
  line: number;
  lines: string[];
  /** NAME when the line right before the opening fence is `<!-- drill: NAME -->`. */
  drill?: string;
}

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const drill = i > 0 ? /^<!--\s*drill:\s*(\S+)\s*-->\s*$/.exec(lines[i - 1])?.[1] : undefined;
    const start = i + 1;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]));
    out.push({ lang: open[1], line: start + 1, lines: lines.slice(start, i), ...(drill ? { drill } : {}) });
  }
  return out;
}

/** Drill blocks run by another test (they need root and real drives): drill name -> that test's file. */
const DRILLS: Record<string, string> = {
  'replace-disk': 'test/real-drives.test.ts',
};

interface Command {
  line: number;
  /** The command as the README shows it (continuations joined). */
  source: string;
  words: string[];
  /** Comment text that goes with it: the comment lines above it (up to a blank line), and its own. */
  comment: string;
}

/** Splits a shell command line into words: '...' and "..." quoting, backslash escapes, # comments. */
function shellWords(line: string): { words: string[]; comment: string } {
  const words: string[] = [];
  let cur = '', inWord = false, i = 0;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated ' in: ${line}`);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
      }
      assert.ok(j < line.length, `unterminated " in: ${line}`);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words, comment: line.slice(i + 1).trim() };
}

function commands(b: Block): Command[] {
  const out: Command[] = [];
  let comment: string[] = [];
  for (let i = 0; i < b.lines.length; i++) {
    let raw = b.lines[i];
    const line = b.line + i;
    if (/^\s*$/.test(raw)) {
      comment = [];
      continue;
    }
    if (/^\s*#/.test(raw)) {
      comment.push(raw.replace(/^\s*#\s?/, ''));
      continue;
    }
    while (/\\\s*$/.test(raw) && i + 1 < b.lines.length) raw = raw.replace(/\\\s*$/, ' ') + b.lines[++i].trim();
    const { words, comment: own } = shellWords(raw);
    if (words.length) out.push({ line, source: raw.replace(/\s+/g, ' ').trim(), words, comment: [...comment, own].join(' ') });
  }
  return out;
}

/** The ```bash blocks this file runs: every one but the drills. */
const BASH = blocks(text).filter((b) => (b.lang === 'bash' || b.lang === 'sh') && !b.drill);

// ---------------------------------------------------------------------------
// The scratch world the commands run in

// Registered before the scratch directories (whose removal is an exit handler
// too): a failed test must not leave a daemon scrubbing a deleted directory.
let daemonPool: string | undefined;
process.on('exit', () => {
  if (daemonPool && fs.existsSync(path.join(daemonPool, '.dynamicfs', 'scrubd.sock'))) {
    cli('dfs-scrubd', ['stop', '--pool', daemonPool], { env: { NOTIFY_SOCKET: undefined, INVOCATION_ID: undefined }, timeout: 30_000 });
  }
});

const root = scratchDir('dfs-readme-');
const WORK = path.join(root, 'work'); // the cwd: files the README stores live here
const POOL = path.join(root, 'pool');
daemonPool = POOL;
const TEXTFILES = path.join(root, 'textfiles');
const UNIT_DIR = path.join(root, 'units');
const CONFIG_DIR = path.join(root, 'schedule-config');
for (const d of [WORK, TEXTFILES]) fs.mkdirSync(d, { recursive: true });

/** README paths and the scratch paths that stand in for them. */
const PATHS: [string, string][] = [
  ['/var/lib/dynamicfs/pool', POOL],
  ['/tmp/pool', POOL],
  ['/var/lib/prometheus/node-exporter', TEXTFILES],
];

function substitute(word: string): string {
  for (const [from, to] of PATHS) {
    if (word === from || word.startsWith(from + '/')) return to + word.slice(from.length);
    const eq = word.indexOf('=' + from);
    if (eq >= 0) return word.slice(0, eq + 1) + substitute(word.slice(eq + 1));
  }
  return word;
}

/** Data for the files `put` stores: a few MiB that differ per name. */
function ensureInput(name: string): void {
  const file = path.resolve(WORK, name);
  if (fs.existsSync(file)) return;
  const size = 2 * 1024 * 1024 + name.length * 4099;
  const buf = Buffer.alloc(size);
  let x = 0x9e3779b9 ^ name.length;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  fs.writeFileSync(file, buf);
}

const ENV = { NOTIFY_SOCKET: undefined, INVOCATION_ID: undefined, LISTEN_FDS: undefined };

// ---------------------------------------------------------------------------
// What each executable is, and which commands run until stopped

const EXECUTABLES = ['dynamicfs', 'dfs-pool', 'dfs-scrub', 'dfs-scrubd', 'dfs-scrub-schedule', 'dfs-metrics', 'dfs-inject'];

/**
 * What a command line runs: the executable named (dynamicfs itself for the
 * umbrella, so that it is exercised too), the guide's command name if any,
 * the arguments after it, and the executable that does the work
 * (`dynamicfs scrub-daemon x` is dfs-scrubd's `x`).
 */
function target(words: string[]): { exe: string; lead: string[]; args: string[] } {
  if (words[0] !== 'dynamicfs') return { exe: words[0], lead: [], args: words.slice(1) };
  const routes: Record<string, [string, string[]]> = {
    scrub: ['dfs-scrub', []],
    status: ['dfs-pool', ['status']],
    'probe-disks': ['dfs-pool', ['probe-disks']],
    pool: ['dfs-pool', []],
    'scrub-daemon': ['dfs-scrubd', []],
    'scrub-schedule': ['dfs-scrub-schedule', []],
    'metrics-server': ['dfs-metrics', []],
    inject: ['dfs-inject', []],
  };
  const r = routes[words[1]];
  assert.ok(r, `dynamicfs has no command ${words[1]}`);
  return { exe: r[0], lead: [words[1]], args: [...r[1], ...words.slice(2)] };
}

const positional = (args: string[]) => args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1].startsWith('--') && !['--json', '--repair', '--list', '--remove', '--once', '--foreground', '--resume', '--verbose', '--replace', '--half', '--zero', '--all', '--all-extents'].includes(args[i - 1])));

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let metricsServer: { running: Running; url: string } | undefined;

function start(name: string, args: string[]): Running {
  const child = cliAsync(name, args, { cwd: WORK, env: ENV });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(r: Running, what: string): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  const code = await r.exited;
  assert.is(code, 0, `${what}: exit ${code} after SIGTERM\n${r.output()}`);
}

async function stopMetricsServer(): Promise<void> {
  if (!metricsServer) return;
  const m = metricsServer;
  metricsServer = undefined;
  await stop(m.running, 'the metrics server');
}

/** Exit codes a command may end with, unless its comment names one. */
function allowed(c: Command, exe: string): number[] {
  const m = /\(exit (\d+)(?:[:)])/.exec(c.comment);
  if (m) return [Number(m[1])];
  return exe === 'dfs-scrubd' ? [0, 1, 3, 4] : [0, 1, 4];
}

async function runCommand(c: Command, words: string[]): Promise<void> {
  assert.ok(EXECUTABLES.includes(words[0]), `README:${c.line}: ${words[0]} is not one of the executables`);
  const { exe, lead, args: routed } = target(words);
  // `own`: the arguments as the README writes them (after `dynamicfs COMMAND`),
  // with scratch paths; `args`: the same seen by the executable that does the
  // work (dynamicfs status is dfs-pool's `status`), for deciding what it is.
  let own = words.slice(1 + lead.length).map(substitute);
  const args = () => [...routed.slice(0, routed.length - (words.length - 1 - lead.length)), ...own];
  const line = () => [...lead, ...own];
  // Every absolute path a command touches must be in the scratch area.
  for (const a of own) {
    const p = a.includes('=') ? a.slice(a.indexOf('=') + 1) : a;
    if (p.startsWith('/')) assert.ok(p.startsWith(root), `README:${c.line}: ${c.source}: ${p} is outside the scratch area (teach test/readme.test.ts a substitution)`);
  }
  const pos = positional(args());
  if (exe === 'dfs-pool' && pos[0] === 'put' && pos[1]) ensureInput(pos[1]);

  if (exe === 'dfs-metrics' && !own.includes('--textfile-dir')) {
    // Serves until stopped: on a free port, for the curl lines that follow.
    await stopMetricsServer();
    const i = own.indexOf('--port');
    own = i >= 0 ? [...own.slice(0, i), '--port', '0', ...own.slice(i + 2)] : [...own, '--port', '0'];
    const running = start(words[0], line());
    const url = await waitFor('the metrics server to listen', () => {
      if (running.child.exitCode !== null) throw new Error(`README:${c.line}: ${c.source}: exited ${running.child.exitCode}\n${running.output()}`);
      return /(http:\/\/[^\s/]+)\/metrics/.exec(running.output())?.[1];
    });
    metricsServer = { running, url };
    return;
  }
  await stopMetricsServer();

  if (exe === 'dfs-scrub-schedule' && pos[0] === 'run') {
    // The runner stays in the foreground: it must start, keep running, and stop cleanly on SIGTERM.
    const running = start(words[0], line());
    await waitFor('the schedule runner to start', () => {
      if (running.child.exitCode !== null) throw new Error(`README:${c.line}: ${c.source}: exited ${running.child.exitCode}\n${running.output()}`);
      return /started/.test(running.output()) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.is(running.child.exitCode, null, `README:${c.line}: the runner keeps running\n${running.output()}`);
    await stop(running, `README:${c.line}: ${c.source}`);
    return;
  }
  if (exe === 'dfs-scrub-schedule' && !own.includes('cron')) {
    // Never systemctl, never /etc: stage the units and configs in the scratch area.
    own = [...own, '--unit-dir', UNIT_DIR, '--config-dir', CONFIG_DIR];
  }

  const r = cli(words[0], line(), { cwd: WORK, env: ENV, timeout: 180_000 });
  const ok = allowed(c, exe);
  assert.ok(
    r.status !== null && ok.includes(r.status),
    `README:${c.line}: ${c.source}\n  ran: ${words[0]} ${line().join(' ')}\n  exit ${r.status ?? r.signal}, expected ${ok.join(' or ')}\n${r.stdout}${r.stderr}`,
  );
}

async function fetchCommand(c: Command, words: string[]): Promise<void> {
  const url = words.find((w) => /^https?:\/\//.test(w));
  assert.ok(url, `README:${c.line}: curl without a URL`);
  assert.ok(metricsServer, `README:${c.line}: ${c.source}: no metrics server was started before it`);
  const u = new URL(url!);
  assert.is(u.port, '9090', `README:${c.line}: the guide's port`);
  const res = await fetch(metricsServer!.url + u.pathname);
  const body = await res.text();
  assert.is(res.status, 200, `README:${c.line}: ${c.source}: HTTP ${res.status}\n${body}`);
  if (u.pathname === '/metrics') assert.match(body, /^dynamicfs_extents_healthy\{pool="/m);
  if (u.pathname === '/health') assert.ok(['healthy', 'degraded', 'unrecoverable', 'unknown'].includes(JSON.parse(body).state), body);
  if (u.pathname === '/') {
    assert.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(body, /^<!DOCTYPE html>[\s\S]*<a href="\/metrics">/);
  }
}

function systemctlCommand(c: Command, words: string[]): void {
  const shipped = fs.readdirSync(path.join(repoRoot, 'units'));
  const units = words.slice(1).filter((w) => !w.startsWith('-') && !['enable', 'disable', 'start', 'stop', 'status', 'restart', 'reload', 'daemon-reload', 'list-timers', 'edit'].includes(w));
  assert.ok(units.length > 0, `README:${c.line}: ${c.source}: names no unit`);
  for (const u of units) {
    const m = /^(dfs-[a-z-]+)(@[^.]*)?\.(service|timer|socket|path|target)$/.exec(u);
    if (m) {
      const file = `${m[1]}${m[2] ? '@' : ''}.${m[3]}`;
      assert.ok(shipped.includes(file), `README:${c.line}: ${c.source}: units/${file} is not shipped`);
    } else {
      // The guide's own unit, which the README tells the user to create.
      const name = u.replace(/\.service$/, '');
      assert.ok(text.includes(`/etc/systemd/system/${name}.service`), `README:${c.line}: ${c.source}: ${u} is neither shipped in units/ nor defined by the README`);
    }
  }
}

const makefile = fs.readFileSync(path.join(repoRoot, 'Makefile'), 'utf8');

function makeCommand(c: Command, words: string[]): void {
  for (const w of words.slice(1)) {
    if (w.startsWith('-')) continue;
    const assign = /^([A-Z_]+)=/.exec(w);
    if (assign) {
      assert.match(makefile, new RegExp(`^${assign[1]}\\s*\\??=`, 'm'), `README:${c.line}: ${c.source}: the Makefile has no variable ${assign[1]}`);
    } else {
      assert.match(makefile, new RegExp(`^${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm'), `README:${c.line}: ${c.source}: the Makefile has no target ${w}`);
    }
  }
}

/** `mkdir [-p] DIR...`: made in the scratch area, like every path a command touches. */
function mkdirCommand(c: Command, words: string[]): void {
  const parents = words.includes('-p');
  const dirs = words.slice(1).filter((w) => !w.startsWith('-'));
  assert.ok(dirs.length > 0, `README:${c.line}: ${c.source}: names no directory`);
  for (const d of dirs.map(substitute)) {
    assert.ok(d.startsWith(root + '/'), `README:${c.line}: ${c.source}: ${d} is outside the scratch area (teach test/readme.test.ts a substitution)`);
    fs.mkdirSync(d, { recursive: parents });
  }
}

/** `$(systemd-escape --path P)` as the shell would expand it. */
function expandEscapes(line: string): string {
  return line.replace(/\$\(systemd-escape --path ([^)\s]+)\)/g, (_, p: string) => {
    const r = spawnSync('systemd-escape', ['--path', p], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : p.replace(/^\/+|\/+$/g, '').replace(/-/g, '\\x2d').replace(/\//g, '-');
  });
}

async function exercise(c: Command): Promise<void> {
  let words = shellWords(expandEscapes(c.source)).words;
  if (words[0] === 'sudo') words = words.slice(1);
  const cmd = words[0];
  if (cmd === 'watch') {
    const inner = words[words.length - 1];
    return exercise({ ...c, source: inner, words: shellWords(inner).words });
  }
  if (EXECUTABLES.includes(cmd)) return runCommand(c, words);
  if (cmd === 'curl') return fetchCommand(c, words);
  if (cmd === 'systemctl') return systemctlCommand(c, words);
  if (cmd === 'make') return makeCommand(c, words);
  if (cmd === 'mkdir') return mkdirCommand(c, words);
  assert.unreachable(`README:${c.line}: ${c.source}: test/readme.test.ts does not know how to exercise ${cmd}`);
}

// ---------------------------------------------------------------------------
// The tests: one per command, in README order

test('README.md keeps its Set-up section with make demo and make check', () => {
  const setup = /^## Set-up\n([\s\S]*?)^## /m.exec(text);
  assert.ok(setup, 'a ## Set-up section');
  assert.match(setup![1], /^make demo\b/m);
  assert.match(setup![1], /^make check\b/m);
});

test('README.md shows commands for every executable, directly or through dynamicfs', () => {
  const shown = new Set<string>();
  for (const c of BASH.flatMap(commands)) {
    const words = shellWords(c.source).words.filter((w, i) => !(i === 0 && w === 'sudo'));
    if (!EXECUTABLES.includes(words[0])) continue;
    shown.add(words[0]);
    if (words[0] === 'dynamicfs') shown.add(target(words).exe);
  }
  const missing = EXECUTABLES.filter((e) => !shown.has(e));
  assert.equal(missing, [], `executables no README command uses: ${missing.join(' ')}`);
});

test('README.md: the replace-disk drill is there, and test/real-drives.test.ts runs it', () => {
  const all = blocks(text);
  const drills = all.filter((b) => b.drill);
  for (const b of drills) {
    assert.ok(DRILLS[b.drill!], `README:${b.line}: <!-- drill: ${b.drill} --> names no test that runs it (add it to DRILLS in test/readme.test.ts)`);
  }
  const drill = drills.filter((b) => b.drill === 'replace-disk');
  assert.is(drill.length, 1, 'exactly one ```bash block right after the line <!-- drill: replace-disk -->');
  const b = drill[0];
  assert.is(b.lang, 'bash', `README:${b.line}: the drill is a \`\`\`bash block`);
  // Real commands only: the one placeholder is /dev/sdX, which the other test replaces by a loop device.
  const body = b.lines.filter((l) => !/^\s*(#|$)/.test(l)).join('\n');
  assert.not.match(body, /\.\.\.|<[A-Za-z]|\b(NEW|OLD|DISK|ENTRY|POOL)\b/, `README:${b.line}: the drill has a placeholder other than /dev/sdX`);
  for (const l of ['mkfs.ext4 /dev/sdX', 'mount /dev/sdX /mnt/disk3-new', 'dfs-pool replace-disk --pool /srv/pool 3 /mnt/disk3-new', 'dfs-scrub --pool /srv/pool --repair']) {
    assert.ok(b.lines.some((x) => x.trim().startsWith(l)), `README:${b.line}: the drill runs ${l}`);
  }
  for (const [name, file] of Object.entries(DRILLS)) {
    const runner = path.join(repoRoot, file);
    assert.ok(fs.existsSync(runner), `${file} (runs the README's ${name} drill) exists`);
    assert.ok(fs.readFileSync(runner, 'utf8').includes(`drill: ${name}`), `${file} mentions "drill: ${name}": it must run the README block this file skips`);
  }
});

for (const b of blocks(text)) {
  if (b.drill) continue; // run by DRILLS[b.drill], checked above
  if (b.lang === 'bash' || b.lang === 'sh') {
    for (const c of commands(b)) test(`README:${c.line}: ${c.source}`, () => exercise(c));
  } else if (b.lang === 'ini') {
    // A unit: its commands run like the others (the binaries are the installed ones).
    for (const [i, l] of b.lines.entries()) {
      const m = /^Exec(Start|Stop)=(\S+)(.*)$/.exec(l);
      if (!m) continue;
      const source = `${path.basename(m[2])}${m[3]}`;
      test(`README:${b.line + i}: ${l}`, () => {
        assert.match(m[2], /^\/usr\/local\/bin\/(dynamicfs|dfs-[a-z-]+)$/, 'runs an installed executable');
        return exercise({ line: b.line + i, source, words: shellWords(source).words, comment: '' });
      });
    }
  } else if (b.lang === 'yaml' && b.lines.some((l) => l.startsWith('scrape_configs:'))) {
    test(`README:${b.line}: the Prometheus config passes promtool check config with the shipped rules`, () => {
      if (!requireTool('promtool')) return;
      const dir = scratchDir('dfs-readme-prom-');
      fs.writeFileSync(path.join(dir, 'prometheus.yml'), b.lines.join('\n') + '\n');
      const ruleFiles = [...b.lines.join('\n').matchAll(/^\s+- (\S+\.ya?ml)$/gm)].map((m) => m[1]);
      assert.equal(ruleFiles.map((f) => path.basename(f)), ['alerts.yml', 'records.yml'], 'the rule files are the shipped ones');
      for (const f of ruleFiles) fs.copyFileSync(path.join(repoRoot, 'src', 'metrics', path.basename(f)), path.join(dir, f));
      const r = spawnSync('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /SUCCESS: \d+ rules found/);
    });
  } else if (b.lang === 'yaml' && b.lines.some((l) => l.startsWith('providers:'))) {
    test(`README:${b.line}: the Grafana provisioning points at the directory make install puts the dashboard in`, () => {
      const dir = /^\s+path: (\S+)$/m.exec(b.lines.join('\n'))?.[1];
      assert.is(dir, '/usr/local/share/dynamicfs/grafana', 'PREFIX=/usr/local');
      assert.match(makefile, /^SHARED_FILES :=.* src\/metrics\/grafana\/dynamicfs\.json/m, 'the Makefile installs src/metrics/grafana/dynamicfs.json into share/dynamicfs/grafana');
      assert.ok(fs.existsSync(path.join(repoRoot, 'src', 'metrics', 'grafana', 'dynamicfs.json')));
    });
  } else if (b.lang === '') {
    test(`README:${b.line}: code block has a language`, () => assert.unreachable('mark it bash, ini, yaml or text'));
  }
}

test('every man page the README lists exists', () => {
  for (const m of text.matchAll(/\]\((man\/[^)]+)\)/g)) assert.ok(fs.existsSync(path.join(repoRoot, m[1])), `${m[1]} (linked from README.md)`);
  for (const m of text.matchAll(/\]\((src\/[^)]+)\)/g)) assert.ok(fs.existsSync(path.join(repoRoot, m[1])), `${m[1]} (linked from README.md)`);
  for (const m of text.matchAll(/\]\((docs\/[^)]+)\)/g)) assert.ok(fs.existsSync(path.join(repoRoot, m[1])), `${m[1]} (linked from README.md)`);
});

test('afterwards: no daemon or server the README started is left running', async () => {
  await stopMetricsServer();
  const r = cli('dfs-scrubd', ['status', '--pool', POOL, '--json'], { env: ENV });
  if (r.status === 0) {
    const s = cli('dfs-scrubd', ['stop', '--pool', POOL], { env: ENV });
    assert.is(s.status, 0, s.stderr);
  }
});

test('README.md: the intensity table is the one the code runs', () => {
  const { pacingFor } = require(path.join(repoRoot, 'dist', 'src', 'scrub', 'pacing.js')) as {
    pacingFor: (i: string) => { pauseMs: number; extentsPerOp: number; nice: number; verifyNice: number };
  };
  for (const level of ['low', 'medium', 'high', 'max']) {
    const p = pacingFor(level);
    const row = new RegExp(`^\\| \`${level}\` \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\|`, 'm').exec(text);
    assert.ok(row, `README has a row for ${level}`);
    assert.is(row![1], p.pauseMs ? `${p.pauseMs} ms` : 'none', `${level}: pause`);
    assert.ok(row![2].startsWith(String(p.extentsPerOp)), `${level}: extents per operation ${p.extentsPerOp}: ${row![2]}`);
    assert.is(row![3], p.verifyNice === p.nice ? String(p.nice) : `${p.nice}, verify threads ${p.verifyNice}`, `${level}: nice`);
  }
});

test.run();
