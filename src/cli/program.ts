import sade from 'sade';
import { DfsError, EXIT } from '../core/errors';
import { onNotice } from '../core/notice';
import { printable } from '../core/printable';

// What only a command that runs needs is required where it is used: --help
// loads sade and the option tables, not the pool code (issue 12).
const corePool = (): typeof import('../core/pool') => require('../core/pool');

// One declarative table per executable feeds both sade (parsing, --help) and the
// man-page check, so an option cannot exist in one and not the other.

export interface OptionSpec {
  /** sade flag syntax, e.g. '--pool' or '-n, --dry-run'. */
  flag: string;
  /** Value placeholder for the man page, e.g. 'PATH'; absent for switches. */
  value?: string;
  description: string;
  default?: string | number | boolean;
  /** The values it takes, when they are a fixed set (shell completion offers them). */
  choices?: readonly string[];
}

export type Handler = (...args: any[]) => Promise<number | void> | number | void;

export interface CommandSpec {
  /** Usage as sade takes it: 'put <file> [name]'; '' for a single-command program. */
  usage: string;
  description: string;
  options: OptionSpec[];
  examples?: string[];
  action: Handler;
}

export interface ProgramSpec {
  name: string;
  version: string;
  description: string;
  /** Options every command of this program takes. */
  common: OptionSpec[];
  commands: CommandSpec[];
  /** A program whose only job is one command (dfs-scrub). */
  single?: boolean;
  /** Run as root over a pool another user owns, become that user first (see pool-owner.ts). */
  runsAsPoolOwner?: boolean;
}

export { VERSION } from './version';

export const poolOption: OptionSpec = { flag: '--pool', value: 'PATH', description: 'The pool directory' };
export const jsonOption: OptionSpec = { flag: '--json', description: 'One JSON document on stdout, logs on stderr' };

export const BOOLEAN_CHOICES = ['true', 'false'] as const;

export const requirePool = (opts: { pool?: unknown }): string => corePool().requirePoolOption(opts.pool);

function build(spec: ProgramSpec) {
  const usage = spec.single ? `${spec.name} ${spec.commands[0].usage}`.trim() : spec.name;
  const prog = sade(usage, spec.single);
  prog.version(spec.version);
  if (spec.single) prog.describe(spec.description);
  for (const o of spec.common) prog.option(o.flag, o.description, o.default);
  for (const c of spec.commands) {
    if (!spec.single) prog.command(c.usage, c.description);
    for (const o of c.options) prog.option(o.flag, o.description, o.default);
    for (const e of c.examples ?? []) prog.example(e);
    prog.action(c.action);
  }
  return prog;
}

class SadeExit extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/**
 * Parses argv with sade and runs the chosen handler, mapping every failure to
 * one line on stderr and DESIGN.md's exit code. sade reports usage errors by
 * printing a banner and calling process.exit(1); those are caught here and
 * re-issued as one line with exit 16.
 */
export async function runProgram(spec: ProgramSpec, argv = process.argv): Promise<never> {
  const prog = build(spec);
  const realExit = process.exit;
  const realError = console.error;
  let captured = '';
  let parsed: { handler: Handler; args: unknown[] } | void;
  try {
    console.error = (msg: unknown) => {
      captured += String(msg);
    };
    process.exit = ((code?: number) => {
      throw new SadeExit(captured.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'ERROR')[0] ?? `exit ${code}`);
    }) as typeof process.exit;
    // Switches are declared boolean, so `--json FILE` never swallows FILE as a value.
    // Values stay strings (an object named 007 is not 7).
    const all = [...spec.common, ...spec.commands.flatMap((c) => c.options)];
    const name = (o: OptionSpec) => o.flag.replace(/^.*--/, '');
    parsed = prog.parse(argv, {
      lazy: true,
      boolean: all.filter((o) => !o.value).map(name),
      string: all.filter((o) => o.value).map(name),
      unknown: (flag: string) => `unknown option ${flag}`,
    }) as typeof parsed;
  } catch (err) {
    process.exit = realExit;
    console.error = realError;
    if (err instanceof SadeExit) {
      process.stderr.write(`${spec.name}: ${err.detail.replace(/^Run `.*$/, '')} (see ${spec.name} --help)\n`);
      return process.exit(EXIT.USAGE);
    }
    throw err;
  } finally {
    process.exit = realExit;
    console.error = realError;
  }
  if (!parsed) return process.exit(EXIT.OK); // --help or --version was printed
  onNotice((msg) => process.stderr.write(`${spec.name}: notice: ${printable(msg)}\n`));
  let code: number;
  try {
    if (spec.runsAsPoolOwner) {
      // sade hands the options last: a pool someone else owns is handled with their rights.
      const opts = parsed.args[parsed.args.length - 1] as { pool?: unknown } | undefined;
      if (typeof opts?.pool === 'string' && opts.pool) (require('./pool-owner') as typeof import('./pool-owner')).becomePoolOwner(opts.pool);
    }
    const r = await parsed.handler(...parsed.args);
    code = typeof r === 'number' ? r : EXIT.OK;
  } catch (err) {
    code = reportError(spec.name, err);
  }
  return exitAfterFlush(code);
}

export function reportError(name: string, err: unknown): number {
  // An error may name a hostile path or object: escaped, it stays one harmless line.
  if (err instanceof DfsError) {
    process.stderr.write(`${name}: ${printable(err.message)}\n`);
    return err.code;
  }
  const msg = err instanceof Error ? (process.env.DFS_DEBUG ? String(err.stack).split('\n').map(printable).join('\n') : printable(err.message)) : printable(err);
  process.stderr.write(`${name}: internal error: ${msg}\n`);
  return EXIT.OPERATIONAL;
}

/** Exits once stdout and stderr have drained, so piped output and warnings are never cut short. */
function exitAfterFlush(code: number): Promise<never> {
  const drained = (s: NodeJS.WriteStream) =>
    s.writableLength === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          s.once('drain', resolve);
          s.once('error', resolve);
        });
  return Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => process.exit(code));
}

// A reader that closes the pipe early (`| head`) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.OK);
});
