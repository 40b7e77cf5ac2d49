import { underSystemd } from './notify';
import { printable } from '../core/printable';

// Under systemd, a <N> prefix on each stderr line lets journald keep the severity.
const PRIORITY = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type LogLevel = keyof typeof PRIORITY;

export function log(level: LogLevel, msg: string): void {
  // One line per message, whatever a pool path or name holds: journald and terminals show, not obey.
  msg = printable(msg);
  const line = underSystemd() ? `<${PRIORITY[level]}>${msg}` : `${new Date().toISOString()} ${level}: ${msg}`;
  process.stderr.write(line + '\n');
}
