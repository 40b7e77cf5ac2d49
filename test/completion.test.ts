// Bash completion, as bash runs it: the scripts make build writes under
// build/completions are sourced into a real bash, COMP_WORDS set as readline
// would, and COMPREPLY read back. Every verb and option of every program's
// spec is offered, option values come from the spec's choices, and --pool
// completes directories only.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, scratchDir } from './helpers';
import { PROGRAM_SPECS } from '../src/cli/completion';
import { UMBRELLA_ROUTES } from '../src/cli/dynamicfs';
import type { ProgramSpec } from '../src/cli/program';

const dir = scratchDir('dfs-completion-');
const scriptOf = (name: string) => path.join(repoRoot, 'build', 'completions', name);

/** What bash completes for the words typed so far (the last one being completed). */
function complete(words: string[], cwd = dir): string[] {
  const name = words[0];
  const script = [
    `source ${JSON.stringify(scriptOf(name))}`,
    `COMP_WORDS=(${words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE="\${COMP_WORDS[*]}"`,
    `COMP_POINT=\${#COMP_LINE}`,
    `fn=$(complete -p ${name} | sed -E 's/.*-F ([^ ]+) .*/\\1/')`,
    // Users with `set -eu` in their shell: the functions must not trip on either.
    'set -eu',
    '"$fn"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { cwd, encoding: 'utf8' });
  assert.is(r.status, 0, `bash: ${r.stderr}`);
  assert.is(r.stderr, '', `bash printed errors completing ${words.join(' ')}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

const longFlags = (s: ProgramSpec, usage: string) =>
  [...s.common, ...(s.commands.find((c) => c.usage === usage)?.options ?? [])].flatMap((o) => o.flag.split(/,\s*/)).filter((f) => f.startsWith('--'));

const verbOf = (usage: string) => usage.split(/\s+/)[0];

test('every executable has a script that bash sources and binds', () => {
  for (const name of [...Object.keys(PROGRAM_SPECS), 'dynamicfs']) {
    assert.ok(fs.existsSync(scriptOf(name)), `${scriptOf(name)} not built`);
    const r = spawnSync('bash', ['--norc', '-c', `source ${JSON.stringify(scriptOf(name))} && complete -p ${name}`], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`complete -F \\S+ ${name}$`, 'm'));
  }
});

test("each program's verbs, and each verb's options, exactly as its spec has them", () => {
  for (const [name, load] of Object.entries(PROGRAM_SPECS)) {
    const s = load();
    if (!s.single) assert.equal(complete([name, '']), s.commands.map((c) => verbOf(c.usage)).sort(), `${name}: verbs`);
    for (const c of s.commands) {
      const words = s.single ? [name, '--'] : [name, verbOf(c.usage), '--'];
      assert.equal(complete(words), [...new Set([...longFlags(s, c.usage), '--help', '--version'])].sort(), `${words.join(' ')}: options`);
    }
  }
});

test('option values: intensities, frequencies, booleans from the spec; free values left to the user', () => {
  assert.equal(complete(['dfs-scrub', '--intensity', '']), ['high', 'low', 'max', 'medium']);
  assert.equal(complete(['dfs-scrub', '--pool', '/x', '--intensity', 'm']), ['max', 'medium']);
  assert.equal(complete(['dfs-scrub-schedule', '--frequency', '']), ['continuous', 'daily', 'hourly', 'monthly', 'nightly', 'weekly']);
  assert.equal(complete(['dfs-scrub-schedule', '--depth', '']), ['deep', 'light']);
  assert.equal(complete(['dfs-scrub', '--when-busy', '']), ['fail', 'skip', 'wait']);
  assert.equal(complete(['dfs-scrub-schedule', '--auto-repair', '']), ['false', 'true']);
  assert.equal(complete(['dfs-scrubd', 'set-intensity', '--intensity', 'l']), ['low']);
  assert.equal(complete(['dfs-scrub', '--max-rate', '']), [], 'a rate is typed, not chosen');
  // After an option's value, the next word is an option or a positional again.
  assert.equal(complete(['dfs-pool', '--pool', '/x', 'st']), ['status']);
});

test('--pool completes directories only; put completes files', () => {
  fs.mkdirSync(path.join(dir, 'pools', 'alpha'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'pools', 'beta'));
  fs.writeFileSync(path.join(dir, 'pools', 'afile'), 'x');
  assert.equal(complete(['dfs-scrub', '--pool', 'pools/']), ['pools/alpha', 'pools/beta']);
  assert.equal(complete(['dfs-pool', 'status', '--pool', 'pools/a']), ['pools/alpha']);
  assert.equal(complete(['dfs-pool', 'put', '--pool', 'pools/alpha', 'pools/a']), ['pools/afile', 'pools/alpha']);
});

test('--opt=value (readline splits it at =), names with spaces, and -- ending the options', () => {
  fs.mkdirSync(path.join(dir, 'sp', 'my disk'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'sp', 'other'));
  assert.equal(complete(['dfs-scrub', '--pool', '=', 'sp/o']), ['sp/other']);
  assert.equal(complete(['dfs-scrub', '--pool', '=']), complete(['dfs-scrub', '--pool', '']));
  assert.equal(complete(['dfs-scrub', '--intensity', '=', 'h']), ['high']);
  assert.equal(complete(['dfs-pool', '--pool', '=', '/tmp', 'st']), ['status'], 'the value after = is not the verb');
  assert.equal(complete(['dfs-scrub', '--pool', 'sp/my']), ['sp/my disk'], 'one name, spaces and all');
  assert.equal(complete(['dfs-pool', 'put', '--', '--po']), [], 'after --, a word starting with - is not an option');
  assert.equal(complete(['dfs-scrub', '--help', '--intensity', 'l']), ['low'], '--help takes no value');
});

test("dynamicfs: the guide's commands, each completing as the program it runs", () => {
  assert.equal(complete(['dynamicfs', '']), [...Object.keys(UMBRELLA_ROUTES), '--help', '--version'].sort());
  assert.equal(complete(['dynamicfs', 'scrub', '--intensity', 'h']), ['high']);
  assert.equal(complete(['dynamicfs', 'scrub-daemon', 'set-intensity', '--intensity', 'me']), ['medium']);
  assert.equal(complete(['dynamicfs', 'scrub-daemon', 'st']), ['start', 'status', 'stop']);
  const pool = PROGRAM_SPECS['dfs-pool']();
  assert.equal(complete(['dynamicfs', 'status', '--']), [...new Set([...longFlags(pool, 'status'), '--help', '--version'])].sort());
});

test.run();
