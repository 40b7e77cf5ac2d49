import type { CommandSpec, OptionSpec, ProgramSpec } from './program';
import { UMBRELLA_ROUTES } from './dynamicfs';

// Bash completion for each executable, rendered from its ProgramSpec: the
// table --help and the man pages come from, so completion cannot offer an
// option a program lacks. `node completion.js NAME` prints the script that
// bash-completion loads for NAME (make build writes them under build/).

/** Each executable's spec, loaded lazily like the umbrella's routes (the man-page test reads them here too). */
export const PROGRAM_SPECS: Record<string, () => ProgramSpec> = {
  'dfs-pool': () => require('./dfs-pool').poolProgram,
  'dfs-scrub': () => require('./dfs-scrub').scrubProgram,
  'dfs-scrubd': () => require('./dfs-scrubd').daemonProgram,
  'dfs-scrub-schedule': () => require('./dfs-scrub-schedule').scheduleProgram,
  'dfs-metrics': () => require('./dfs-metrics').metricsProgram,
  'dfs-inject': () => require('./dfs-inject').injectProgram,
};

/** sade gives every program these. */
const BUILTIN = ['--help', '--version'];

/** What follows an option or fills a positional: nothing (a switch), a word from a set, a directory, a file, or anything. */
function valueKind(o: OptionSpec): string {
  if (!o.value) return 'switch';
  if (o.choices) return `words ${o.choices.join(' ')}`;
  if (o.value === 'PATH' || o.value === 'DIR') return 'dir';
  if (o.value === 'FILE') return 'file';
  return 'any';
}

/** Positionals by their name in the usage: files to read or write, disks given by mount point. */
function positionalKinds(usage: string): string[] {
  return usage
    .split(/\s+/)
    .slice(1)
    .filter((t) => /^[<[]/.test(t))
    .map((t) => {
      const name = t.replace(/[<>[\]]/g, '');
      if (name === 'file' || name === 'out') return 'file';
      if (name === 'new' || name === 'old' || name === 'disk') return 'dir';
      return 'any';
    });
}

const longFlags = (o: OptionSpec) => o.flag.split(/,\s*/).map((f) => f.trim());
const bashName = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function verbOf(spec: ProgramSpec, c: CommandSpec): string {
  return spec.single ? '' : c.usage.split(/\s+/)[0];
}

/** The bash data of one program: its verbs, each verb's options, each option's value kind, each verb's positionals. */
function programTables(key: string, spec: ProgramSpec): string {
  const fn = `__dfs_${bashName(key)}`;
  const verbs = spec.single ? [] : spec.commands.map((c) => verbOf(spec, c));
  const optionCases = spec.commands.map((c) => {
    const flags = [...spec.common, ...c.options].flatMap(longFlags).concat(BUILTIN);
    return `    ${quote(verbOf(spec, c))}) echo ${quote(flags.join(' '))} ;;`;
  });
  const kinds = new Map<string, string>();
  for (const o of [...spec.common, ...spec.commands.flatMap((c) => c.options)]) for (const f of longFlags(o)) if (!kinds.has(f)) kinds.set(f, valueKind(o));
  const kindCases = [...kinds].map(([f, k]) => `    ${quote(f)}) echo ${quote(k)} ;;`);
  const positionalCases = spec.commands.map((c) => `    ${quote(verbOf(spec, c))}) echo ${quote(positionalKinds(spec.single ? `x ${c.usage}` : c.usage).join(' '))} ;;`);
  return [
    `${fn}_verbs=${quote(verbs.join(' '))}`,
    `${fn}_options() {`,
    '  case "$1" in',
    ...optionCases,
    '  esac',
    '}',
    `${fn}_value() {`,
    '  case "$1" in',
    ...kindCases,
    // Anything else (--help, an option of another version) takes no value.
    '    *) echo switch ;;',
    '  esac',
    '}',
    `${fn}_positionals() {`,
    '  case "$1" in',
    ...positionalCases,
    '  esac',
    '}',
  ].join('\n');
}

/**
 * The engine, the same in every script: words from `start` on belong to the
 * program `key`; `verb`, when given, is already chosen (the umbrella's
 * `dynamicfs status` is `dfs-pool status`).
 */
const ENGINE = `
__dfs_reply() {
  local kind=$1 cur=$2
  COMPREPLY=()
  case "$kind" in
    words\\ *) mapfile -t COMPREPLY < <(compgen -W "\${kind#words }" -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null || true; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    file) compopt -o filenames 2>/dev/null || true; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
  esac
  return 0
}

__dfs_complete() {
  local key=$1 start=$2 verb=$3
  local cur=\${COMP_WORDS[COMP_CWORD]} prev='' i w kind positional=0 ended=0
  local verbs_var=__dfs_\${key}_verbs
  local verbs=\${!verbs_var}
  # readline breaks --opt=value into --opt, = and value: complete the value.
  if [[ $cur == = ]]; then
    cur=''
    prev=\${COMP_WORDS[COMP_CWORD-1]}
  elif ((COMP_CWORD >= 2)) && [[ \${COMP_WORDS[COMP_CWORD-1]} == = ]]; then
    prev=\${COMP_WORDS[COMP_CWORD-2]}
  fi
  if [[ $prev == --* ]]; then
    kind=$(__dfs_\${key}_value "$prev")
    if [[ $kind != switch ]]; then
      __dfs_reply "$kind" "$cur"
      return 0
    fi
  fi
  # Walk what is typed so far: options (and the values they take), the verb, positionals.
  for ((i = start; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((!ended)) && [[ $w == -- ]]; then
      ended=1
    elif ((!ended)) && [[ $w == -* ]]; then
      kind=$(__dfs_\${key}_value "$w")
      [[ $kind == switch ]] && continue
      if [[ \${COMP_WORDS[i+1]:-} == = ]]; then
        i=$((i + 2))
      elif ((i + 1 == COMP_CWORD)); then
        __dfs_reply "$kind" "$cur"
        return 0
      else
        i=$((i + 1))
      fi
    elif [[ -z $verb && -n $verbs ]]; then
      verb=$w
    else
      positional=$((positional + 1))
    fi
  done
  COMPREPLY=()
  if [[ -z $verb && -n $verbs && $cur != -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
    return 0
  fi
  if ((!ended)) && [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(__dfs_\${key}_options "$verb")" -- "$cur")
    return 0
  fi
  local kinds=()
  read -r -a kinds <<< "$(__dfs_\${key}_positionals "$verb")"
  __dfs_reply "\${kinds[positional]:-none}" "$cur"
}
`;

/** The completion script bash-completion loads for one executable. */
export function completionScript(name: string): string {
  const head = `# bash completion for ${name}, generated from its option tables (src/cli/completion.ts)\n`;
  if (name === 'dynamicfs') {
    const keys = new Map<string, ProgramSpec>();
    for (const r of Object.values(UMBRELLA_ROUTES)) keys.set(r.spec().name, r.spec());
    const cases = Object.entries(UMBRELLA_ROUTES).map(([cmd, r]) => `    ${quote(cmd)}) __dfs_complete ${bashName(r.spec().name)} 2 ${quote(r.as ?? '')} ;;`);
    return [
      head,
      ...[...keys].map(([key, spec]) => programTables(key, spec)),
      ENGINE,
      '_dynamicfs() {',
      '  COMPREPLY=()',
      '  if ((COMP_CWORD == 1)); then',
      `    mapfile -t COMPREPLY < <(compgen -W ${quote([...Object.keys(UMBRELLA_ROUTES), ...BUILTIN].join(' '))} -- "\${COMP_WORDS[1]}")`,
      '    return',
      '  fi',
      '  case "${COMP_WORDS[1]}" in',
      ...cases,
      '  esac',
      '}',
      'complete -F _dynamicfs dynamicfs',
      '',
    ].join('\n');
  }
  const load = PROGRAM_SPECS[name];
  if (!load) throw new Error(`no executable named ${name}`);
  const fn = `_${bashName(name)}`;
  return [head, programTables(name, load()), ENGINE, `${fn}() {`, '  COMPREPLY=()', `  __dfs_complete ${bashName(name)} 1 ''`, '}', `complete -F ${fn} ${name}`, ''].join('\n');
}

if (require.main === module) {
  const name = process.argv[2];
  if (!name || !(name in PROGRAM_SPECS || name === 'dynamicfs')) {
    process.stderr.write(`usage: completion.js NAME (one of ${[...Object.keys(PROGRAM_SPECS), 'dynamicfs'].join(', ')})\n`);
    process.exit(16);
  }
  process.stdout.write(completionScript(name));
}
