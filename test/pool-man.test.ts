// man/dfs-pool.8 documents what src/cli/dfs-pool.ts's poolProgram accepts:
// every command, every option (common ones included), the exit codes and the
// files of DESIGN §1; and mandoc finds nothing to warn about.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, requireTool } from './helpers';
import { poolProgram } from '../src/cli/dfs-pool';

const page = path.join(repoRoot, 'man', 'dfs-pool.8');
const text = fs.readFileSync(page, 'utf8');

/** The text of one section (.Sh NAME up to the next .Sh). */
function section(name: string): string {
  const start = text.indexOf(`\n.Sh ${name}\n`);
  assert.ok(start >= 0, `section ${name}`);
  const end = text.indexOf('\n.Sh ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

const flagName = (flag: string) => flag.split(/,\s*/).pop()!.replace(/^--/, '');

test('mandoc -Tlint -Wwarning finds nothing', () => {
  if (!requireTool('mandoc')) return;
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', page], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is(r.stdout + r.stderr, '');
});

test('every command is in SYNOPSIS and described, with each of its options', () => {
  const synopsis = section('SYNOPSIS');
  const description = section('DESCRIPTION');
  for (const c of poolProgram.commands) {
    const name = c.usage.split(' ')[0];
    assert.ok(synopsis.includes(`.Cm ${name}\n`), `SYNOPSIS shows ${name}`);
    assert.match(description, new RegExp(`^\\.It Cm ${name}\\b`, 'm'), `DESCRIPTION has an entry for ${name}`);
    // Positional arguments, as sade spells them: <file> [name]
    for (const arg of c.usage.split(' ').slice(1)) {
      const bare = arg.replace(/[<>[\]]/g, '');
      assert.ok(synopsis.includes(`Ar ${bare}`), `SYNOPSIS shows ${name}'s argument ${bare}`);
    }
    // The command's own options, in its entry and in SYNOPSIS.
    const entryStart = description.search(new RegExp(`^\\.It Cm ${name}\\b`, 'm'));
    const nextEntry = description.slice(entryStart + 1).search(/^\.It Cm /m);
    const entry = description.slice(entryStart, nextEntry < 0 ? undefined : entryStart + 1 + nextEntry);
    for (const o of c.options) {
      const f = flagName(o.flag);
      assert.ok(entry.includes(`.It Fl -${f}`), `${name}'s entry documents --${f}`);
      assert.ok(synopsis.includes(`Fl -${f}`), `SYNOPSIS shows ${name} --${f}`);
      if (o.value) assert.ok(entry.includes(`.It Fl -${f} Ar ${o.value}`), `--${f} takes ${o.value}`);
      if (o.default !== undefined) assert.ok(entry.includes(String(o.default)), `${name} --${f}: default ${o.default} documented`);
    }
    for (const e of c.examples ?? []) assert.ok(section('EXAMPLES').includes(e), `EXAMPLES include: ${e}`);
  }
});

test('common options, --help and --version are documented', () => {
  for (const o of poolProgram.common) {
    const f = flagName(o.flag);
    assert.ok(text.includes(`.It Fl -${f}`), `documents --${f}`);
    for (const c of poolProgram.commands) {
      const name = c.usage.split(' ')[0];
      const syn = section('SYNOPSIS');
      const at = syn.indexOf(`.Cm ${name}\n`);
      const next = syn.indexOf('\n.Nm', at);
      assert.ok(syn.slice(at, next < 0 ? undefined : next).includes(`Fl -${f}`), `SYNOPSIS of ${name} shows --${f}`);
    }
  }
  assert.ok(text.includes('.It Fl h , Fl -help'));
  assert.ok(text.includes('.It Fl v , Fl -version'));
});

test('EXIT STATUS lists 0, 4, 8 and 16; FILES the on-disk layout', () => {
  const exit = section('EXIT STATUS');
  for (const code of [0, 4, 8, 16]) assert.match(exit, new RegExp(`^\\.It ${code}$`, 'm'), `exit status ${code}`);
  const files = section('FILES');
  for (const f of ['POOL/pool.json', 'POOL/.dynamicfs/', 'DISK/dynamicfs-disk.json', 'DISK/extents/XX/<extent-id>.<shard>', 'DISK/objects/']) {
    assert.ok(files.includes(f), `FILES names ${f}`);
  }
});

test.run();
