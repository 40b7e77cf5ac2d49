// Every executable has its man page, man/<name>.8, and the page matches the
// program: mandoc -Tlint -Wwarning finds nothing; every option --help shows is
// documented, and every option the page documents exists (both directions,
// from the ProgramSpec each CLI exports and from --help itself); every
// command is named. dynamicfs.8 documents every umbrella command. Across all
// pages: SEE ALSO sections whose DynamicFS cross references resolve. And the
// concepts page dynamicfs.7 agrees with the code on exit codes, intensity,
// metric names and the shard header.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, repoRoot, requireTool, scratchDir } from './helpers';
import type { OptionSpec, ProgramSpec } from '../src/cli/program';
import { PROGRAM_SPECS } from '../src/cli/completion';

const MAN = path.join(repoRoot, 'man');

const EXECUTABLES = [...Object.keys(PROGRAM_SPECS), 'dynamicfs'];

/** sade's built-ins: every program has them, whatever its spec says. */
const BUILTIN = new Map([
  ['help', 'h'],
  ['version', 'v'],
]);

// ---------------------------------------------------------------------------
// Reading the programs

/** Loaded at test time, so that one CLI failing to load fails its own tests only. */
function spec(name: string): ProgramSpec {
  const s = PROGRAM_SPECS[name]() as ProgramSpec | undefined;
  assert.ok(s, `src/cli/${name}.ts exports its ProgramSpec`);
  return s!;
}

interface Flag {
  long: string;
  short?: string;
}

/** '--pool' -> {long: 'pool'}; '-n, --dry-run' -> {long: 'dry-run', short: 'n'}. */
function parseFlag(flag: string): Flag {
  const parts = flag.split(/,\s*/).map((p) => p.trim());
  const long = parts.find((p) => p.startsWith('--'));
  const short = parts.find((p) => /^-[^-]/.test(p));
  assert.ok(long, `option ${JSON.stringify(flag)} has a long form`);
  return { long: long!.slice(2), short: short?.slice(1) };
}

/** Every option of a program (common and per command), by long name. */
function specFlags(s: ProgramSpec): Map<string, Flag> {
  const all: OptionSpec[] = [...s.common, ...s.commands.flatMap((c) => c.options)];
  return new Map(all.map((o) => parseFlag(o.flag)).map((f) => [f.long, f]));
}

/** Command names of a multi-command program ('put <file> [name]' -> 'put'). */
function commandNames(s: ProgramSpec): string[] {
  if (s.single) return [];
  return s.commands.map((c) => c.usage.split(' ')[0]).filter((n) => /^[a-z]/.test(n));
}

/** The long option names in the Options block of a --help text. */
function helpFlags(text: string): string[] {
  const out: string[] = [];
  let inOptions = false;
  for (const line of text.split('\n')) {
    if (line.trim() === 'Options') inOptions = true;
    else if (inOptions && line.trim() === '') inOptions = false;
    else if (inOptions) {
      const m = /^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)\b/.exec(line);
      assert.ok(m, `an option line of --help: ${JSON.stringify(line)}`);
      out.push(m![1]);
    }
  }
  return out;
}

/** Everything --help shows: the program's help and, for each command, the command's. */
function helpOptions(name: string, s: ProgramSpec): Set<string> {
  const runs = [[] as string[], ...commandNames(s).map((c) => [c])];
  const out = new Set<string>();
  for (const args of runs) {
    const r = cli(name, [...args, '--help']);
    assert.is(r.status, 0, `${name} ${args.join(' ')} --help: exit ${r.status}\n${r.stderr}`);
    for (const f of helpFlags(r.stdout)) out.add(f);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading the pages

const pagePath = (name: string, section = 8) => path.join(MAN, `${name}.${section}`);

function readPage(name: string, section = 8): string {
  const p = pagePath(name, section);
  assert.ok(fs.existsSync(p), `man/${name}.${section} does not exist: every executable needs its page`);
  return fs.readFileSync(p, 'utf8');
}

/** The text of one section, from `.Sh NAME` up to the next `.Sh`. */
function section(text: string, name: string): string {
  const start = text.indexOf(`\n.Sh ${name}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n.Sh ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/**
 * The head of every list item (`.It ...`, or `.It Xo` ... `.Xc`): where an
 * mdoc page documents its options and commands.
 */
function itemHeads(text: string): string[] {
  const lines = text.split('\n');
  const heads: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\.It\b/.test(lines[i])) continue;
    let head = lines[i];
    if (/^\.It\s+Xo\b/.test(head)) {
      while (++i < lines.length && !/^\.Xc\b/.test(lines[i])) head += ' ' + lines[i];
    }
    heads.push(head);
  }
  return heads;
}

/** The flags named by `Fl` macros in some mdoc text: '-pool' is long 'pool', 'h' is short. */
function flagsIn(text: string): { long: Set<string>; short: Set<string> } {
  const long = new Set<string>(), short = new Set<string>();
  for (const m of text.matchAll(/(?:^|\s|\.)Fl((?:\s+-?[A-Za-z0-9][A-Za-z0-9._=-]*)+)/gm)) {
    // `.Fl -a -b` names several flags; stop at the first word that is not one.
    for (const w of m[1].trim().split(/\s+/)) {
      const word = w.replace(/[.,;:)]+$/, '');
      if (word.startsWith('-')) long.add(word.slice(1).replace(/=.*$/, ''));
      else if (/^[A-Za-z0-9]$/.test(word)) short.add(word);
      break;
    }
  }
  return { long, short };
}

/** The options a page documents: those in a list item head, and those in SYNOPSIS. */
function pageOptions(text: string): { items: ReturnType<typeof flagsIn>; synopsis: ReturnType<typeof flagsIn> } {
  return { items: flagsIn(itemHeads(text).join('\n')), synopsis: flagsIn(section(text, 'SYNOPSIS')) };
}

function lint(file: string): void {
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', file], { encoding: 'utf8' });
  assert.is(r.status, 0, `mandoc -Tlint -Wwarning ${path.relative(repoRoot, file)}:\n${r.stdout}${r.stderr}`);
  assert.is((r.stdout + r.stderr).trim(), '', `mandoc -Tlint -Wwarning ${path.relative(repoRoot, file)}`);
}

/**
 * Both directions: every option of the program (and --help, --version) has a
 * list item in the page; every option the page lists or shows in SYNOPSIS is
 * one of the program's (or a built-in).
 */
function compareOptions(page: string, text: string, programFlags: Map<string, Flag>, documentEvery = true): void {
  const { items, synopsis } = pageOptions(text);
  const missing: string[] = [];
  if (documentEvery) {
    for (const f of programFlags.values()) {
      if (!items.long.has(f.long)) missing.push(`--${f.long}`);
      if (f.short && !items.short.has(f.short)) missing.push(`-${f.short}`);
    }
  }
  for (const b of BUILTIN.keys()) if (!items.long.has(b)) missing.push(`--${b}`);
  assert.equal(missing, [], `${page}: options not documented (want an .It Fl entry each): ${missing.join(' ')}`);

  const knownLong = new Set([...programFlags.keys(), ...BUILTIN.keys()]);
  const knownShort = new Set([...[...programFlags.values()].map((f) => f.short).filter(Boolean), ...BUILTIN.values()]);
  const unknown: string[] = [];
  for (const where of [items, synopsis]) {
    for (const l of where.long) if (!knownLong.has(l)) unknown.push(`--${l}`);
    for (const s of where.short) if (!knownShort.has(s)) unknown.push(`-${s}`);
  }
  assert.equal([...new Set(unknown)], [], `${page}: documents options the program does not have: ${[...new Set(unknown)].join(' ')}`);
}

// ---------------------------------------------------------------------------
// One set of tests per executable

for (const name of Object.keys(PROGRAM_SPECS)) {
  const page = `man/${name}.8`;

  test(`${page} exists`, () => {
    assert.ok(fs.existsSync(pagePath(name)), `${page} does not exist: every executable needs its page`);
  });

  test(`${page}: mandoc -Tlint -Wwarning finds nothing`, () => {
    readPage(name);
    if (!requireTool('mandoc')) return;
    lint(pagePath(name));
  });

  test(`${page}: --help and the ProgramSpec agree`, () => {
    const s = spec(name);
    const fromSpec = new Set(specFlags(s).keys());
    const fromHelp = helpOptions(name, s);
    for (const b of BUILTIN.keys()) fromHelp.delete(b);
    assert.equal([...fromHelp].sort(), [...fromSpec].sort(), `${name}: options of --help vs its ProgramSpec`);
  });

  test(`${page}: every option is documented, and every documented option exists`, () => {
    const text = readPage(name);
    compareOptions(page, text, specFlags(spec(name)));
  });

  test(`${page}: names the program and every command`, () => {
    const text = readPage(name);
    const s = spec(name);
    assert.match(text, new RegExp(`^\\.Nm ${name.replace(/-/g, '\\-')}$`, 'm'), `${page}: .Nm ${name}`);
    assert.match(text, new RegExp(`^\\.Dt ${name.toUpperCase().replace(/-/g, '\\-')} 8$`, 'm'), `${page}: .Dt ${name.toUpperCase()} 8`);
    const missing = commandNames(s).filter((c) => !new RegExp(`\\bCm ${c}\\b`).test(text));
    assert.equal(missing, [], `${page}: commands not documented: ${missing.join(' ')}`);
  });
}

// ---------------------------------------------------------------------------
// The umbrella

test('man/dynamicfs.8 exists and mandoc -Tlint -Wwarning finds nothing', () => {
  readPage('dynamicfs');
  if (!requireTool('mandoc')) return;
  lint(pagePath('dynamicfs'));
});

test('man/dynamicfs.8 documents every umbrella command, and no other', () => {
  const text = readPage('dynamicfs');
  const { UMBRELLA_COMMANDS } = require(path.join(repoRoot, 'dist', 'src', 'cli', 'dynamicfs.js')) as { UMBRELLA_COMMANDS: string[] };
  assert.ok(Array.isArray(UMBRELLA_COMMANDS) && UMBRELLA_COMMANDS.length > 0, 'src/cli/dynamicfs.ts exports UMBRELLA_COMMANDS');
  const description = section(text, 'DESCRIPTION');
  const documented = itemHeads(description).map((h) => /^\.It Cm (\S+)/.exec(h)?.[1]).filter((c): c is string => !!c);
  const missing = UMBRELLA_COMMANDS.filter((c) => !documented.includes(c));
  assert.equal(missing, [], `man/dynamicfs.8: umbrella commands without an .It Cm entry in DESCRIPTION: ${missing.join(' ')}`);
  const extra = documented.filter((c) => !UMBRELLA_COMMANDS.includes(c));
  assert.equal(extra, [], `man/dynamicfs.8 documents commands dynamicfs does not have: ${extra.join(' ')}`);
  const synopsis = section(text, 'SYNOPSIS');
  for (const c of UMBRELLA_COMMANDS) assert.match(synopsis, new RegExp(`\\bCm (?:[a-z-]+ \\| )*${c}\\b`), `SYNOPSIS shows ${c}`);
  // Each entry points the reader at the page of the executable that does the work.
  for (const c of UMBRELLA_COMMANDS) {
    const start = description.search(new RegExp(`^\\.It Cm ${c}\\b`, 'm'));
    const rest = description.slice(start + 1);
    const next = rest.search(/^\.(It|El)\b/m);
    assert.match(rest.slice(0, next < 0 ? undefined : next), /\.Xr dfs-[a-z-]+ 8/, `${c}'s entry names its executable's page`);
  }
  // And dynamicfs --help lists the same commands.
  const r = cli('dynamicfs', ['--help']);
  assert.is(r.status, 0, r.stderr);
  for (const c of UMBRELLA_COMMANDS) assert.match(r.stdout, new RegExp(`^\\s+${c}\\s`, 'm'), `dynamicfs --help lists ${c}`);
});

test('man/dynamicfs.8: its options are --help, --version and options its commands take', () => {
  const text = readPage('dynamicfs');
  const union = new Map<string, Flag>();
  for (const name of Object.keys(PROGRAM_SPECS)) for (const [k, v] of specFlags(spec(name))) union.set(k, v);
  // dynamicfs --help itself shows only the built-ins; the page may document
  // options common to its commands, but none that no command has.
  const r = cli('dynamicfs', ['--help']);
  assert.is(r.status, 0, r.stderr);
  compareOptions('man/dynamicfs.8', text, union, false);
  for (const o of ['pool', 'json']) assert.ok(pageOptions(text).items.long.has(o), `man/dynamicfs.8 documents the common --${o}`);
});

// ---------------------------------------------------------------------------
// All pages

const allPages = () => fs.readdirSync(MAN).filter((f) => /\.[1-9]$/.test(f)).sort();

test('every page in man/ lints clean, has SEE ALSO, and its DynamicFS cross references resolve', () => {
  const problems: string[] = [];
  const lintable = requireTool('mandoc');
  for (const f of allPages()) {
    const text = fs.readFileSync(path.join(MAN, f), 'utf8');
    if (lintable) {
      const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', path.join(MAN, f)], { encoding: 'utf8' });
      if (r.status !== 0 || (r.stdout + r.stderr).trim()) problems.push(`${f}: mandoc: ${(r.stdout + r.stderr).trim()}`);
    }
    const seeAlso = section(text, 'SEE ALSO');
    if (!seeAlso) problems.push(`${f}: no SEE ALSO section`);
    else if (!/\.Xr (dfs-[a-z-]+|dynamicfs) [78]\b/.test(seeAlso)) problems.push(`${f}: SEE ALSO names no other DynamicFS page`);
    for (const m of text.matchAll(/\.Xr (dfs-[a-z-]+|dynamicfs) ([1-9])\b/g)) {
      if (!fs.existsSync(path.join(MAN, `${m[1]}.${m[2]}`))) problems.push(`${f}: .Xr ${m[1]} ${m[2]}: man/${m[1]}.${m[2]} does not exist`);
    }
  }
  assert.equal([...new Set(problems)], [], [...new Set(problems)].join('\n'));
});

test('every executable has a page, and every section-8 page is an executable', () => {
  const pages8 = allPages().filter((f) => f.endsWith('.8')).map((f) => f.slice(0, -2));
  const missing = EXECUTABLES.filter((e) => !pages8.includes(e));
  assert.equal(missing, [], `executables without man/<name>.8: ${missing.join(' ')}`);
  const stray = pages8.filter((p) => !EXECUTABLES.includes(p));
  assert.equal(stray, [], `section-8 pages of no executable: ${stray.join(' ')}`);
  assert.ok(fs.existsSync(pagePath('dynamicfs', 7)), 'man/dynamicfs.7, the concepts page');
});

// ---------------------------------------------------------------------------
// The concepts page agrees with the code

test('man/dynamicfs.7: exit codes, intensity table, shard header as the code has them', () => {
  const text = readPage('dynamicfs', 7);
  const { EXIT } = require(path.join(repoRoot, 'dist', 'src', 'core', 'errors.js')) as { EXIT: Record<string, number> };
  const exits = section(text, 'EXIT CODES');
  for (const [k, code] of Object.entries(EXIT)) {
    if (k === 'NOT_RUNNING') assert.match(exits, new RegExp(`\\b${code} when none does`), 'daemon status exit 3');
    else assert.match(exits, new RegExp(`^\\.It ${code} Ta `, 'm'), `exit code ${code} (${k})`);
  }
  const { pacingFor } = require(path.join(repoRoot, 'dist', 'src', 'scrub', 'pacing.js')) as {
    pacingFor: (i: string) => { pauseMs: number; extentsPerOp: number; nice: number; verifyNice: number };
  };
  // The two commands' own pages carry the table too.
  const scrubPage = readPage('dfs-scrub');
  const daemonPage = readPage('dfs-scrubd');
  for (const level of ['low', 'medium', 'high']) {
    const p = pacingFor(level);
    assert.is(p.verifyNice, p.nice, `${level}: the verify threads at the process's nice`);
    const cells = `Ta ${p.pauseMs} ms Ta ${p.extentsPerOp} Ta ${p.nice}\n`;
    assert.ok(text.includes(`.It Cm ${level} ${cells}`), `intensity row for ${level}: ${p.pauseMs} ms, ${p.extentsPerOp}, nice ${p.nice}`);
    assert.ok(scrubPage.includes(`.It Cm ${level} ${cells}`), `dfs-scrub(8): intensity row for ${level}`);
    assert.ok(daemonPage.includes(`.It ${level} ${cells}`), `dfs-scrubd(8): intensity row for ${level}`);
  }
  const max = pacingFor('max');
  const maxNice = `${max.nice}, verify threads ${max.verifyNice}`;
  assert.ok(text.includes(`.It Cm max Ta none Ta ${max.extentsPerOp}, one operation per core Ta ${maxNice}\n`), 'intensity row for max');
  assert.ok(scrubPage.includes(`.It Cm max Ta none Ta ${max.extentsPerOp}, one operation per core Ta ${maxNice}\n`), 'dfs-scrub(8): intensity row for max');
  assert.ok(daemonPage.includes(`.It max Ta none Ta ${max.extentsPerOp} per thread, all cores Ta ${maxNice}\n`), 'dfs-scrubd(8): intensity row for max');
  const { HEADER_SIZE } = require(path.join(repoRoot, 'dist', 'src', 'core', 'shard-header.js')) as { HEADER_SIZE: number };
  const shard = section(text, 'SHARD FORMAT');
  assert.ok(shard.includes(`${HEADER_SIZE}-byte header`), `header size ${HEADER_SIZE}`);
  assert.ok(shard.includes('Li DFSSHRD1'), 'magic');
  const files = section(text, 'FILES');
  for (const f of ['POOL/pool.json', 'POOL/.dynamicfs/', 'DISK/dynamicfs-disk.json', 'DISK/extents/XX/<extent-id>.<shard>', 'DISK/objects/']) {
    assert.ok(files.includes(f), `FILES names ${f}`);
  }
  for (const s of ['mirror', 'rs', 'healthy', 'degraded', 'unrecoverable']) assert.match(text, new RegExp(`\\.(It )?Cm ${s}\\b`), s);
});

test('man/dynamicfs.7 names every metric dfs-metrics exports', async () => {
  const text = readPage('dynamicfs', 7);
  const { createPool } = require(path.join(repoRoot, 'dist', 'src', 'core', 'pool.js'));
  const { readSnapshots } = require(path.join(repoRoot, 'dist', 'src', 'metrics', 'snapshot.js'));
  const { renderMetrics } = require(path.join(repoRoot, 'dist', 'src', 'metrics', 'registry.js'));
  const root = path.join(scratchDir('dfs-man-metrics-'), 'pool');
  createPool({ root, diskCount: 3, redundancy: 'rs:2+1' });
  const { text: exposition } = await renderMetrics(readSnapshots([root]));
  const names = [...(exposition as string).matchAll(/^# TYPE (dynamicfs_\S+) /gm)].map((m) => m[1]);
  assert.ok(names.length >= 7, `metrics of a fresh pool:\n${exposition}`);
  const metrics = section(text, 'METRICS');
  const missing = names.filter((n) => !new RegExp(`\\b${n}\\b`).test(metrics));
  assert.equal(missing, [], `man/dynamicfs.7 METRICS lacks: ${missing.join(' ')}`);
  for (const n of [
    'dynamicfs_scrubs_completed',
    'dynamicfs_scrub_issues_found',
    'dynamicfs_scrub_repairs_attempted',
    'dynamicfs_scrub_repairs_successful',
    'dynamicfs_extents_healthy',
    'dynamicfs_extents_degraded',
    'dynamicfs_extents_unrecoverable',
  ]) {
    assert.ok(metrics.includes(n), `the guide's ${n}`);
  }
});

test.run();
