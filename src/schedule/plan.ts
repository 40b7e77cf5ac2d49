import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeFileAtomic } from '../core/atomic-file';
import { fsFailure, operationalError } from '../core/errors';

// Every change a schedule makes is first built as a Plan: the files to write
// or remove and the commands to run. --dry-run prints the plan; otherwise it
// is executed. One path for both is what makes the dry run exact.

export interface FileWrite {
  path: string;
  content: string;
  mode: number;
}

export interface Plan {
  writes: FileWrite[];
  /** Files to delete; a directory is removed only if empty (a drop-in dir). */
  removes: string[];
  /** argv lists run before any file changes (stopping what uses the old files). */
  preCommands: string[][];
  /** argv lists run in order after the files are in place. */
  commands: string[][];
  /** Commands left to the operator (systemctl when --unit-dir/--config-dir redirect the files). */
  skippedCommands: string[][];
}

export const emptyPlan = (): Plan => ({ writes: [], removes: [], preCommands: [], commands: [], skippedCommands: [] });

/** The systemctl to run; DFS_SYSTEMCTL replaces it (tests, wrappers). */
const systemctl = () => process.env.DFS_SYSTEMCTL || 'systemctl';

function runCommand(argv: string[]): void {
  const [cmd, ...args] = argv;
  const exe = cmd === 'systemctl' ? systemctl() : cmd;
  try {
    execFileSync(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: string; code?: string };
    const why = e.code === 'ENOENT' ? `${exe} not found` : (e.stderr ?? '').trim().split('\n')[0] || `exit status ${e.status}`;
    throw operationalError(`${argv.join(' ')} failed: ${why}`);
  }
}

function removePath(p: string): void {
  try {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) {
      if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
    } else {
      fs.unlinkSync(p);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsFailure('cannot remove', p, err);
  }
}

/** Pre-commands, writes, removes, then commands; stops at the first failure. */
export function executePlan(plan: Plan): void {
  for (const c of plan.preCommands) runCommand(c);
  for (const w of plan.writes) {
    try {
      fs.mkdirSync(path.dirname(w.path), { recursive: true });
    } catch (err) {
      throw fsFailure('cannot create directory', path.dirname(w.path), err);
    }
    writeFileAtomic(w.path, Buffer.from(w.content), w.mode);
  }
  for (const r of plan.removes) removePath(r);
  for (const c of plan.commands) runCommand(c);
}

/** Shell-style rendering of an argv for display. */
export function shellWords(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Only the removals that would do something, so a dry run does not list phantoms. */
export const existingRemovals = (plan: Plan) => plan.removes.filter((p) => fs.existsSync(p));
