import { underSystemd } from './notify';

// Under systemd, a <N> prefix on each stderr line lets journald keep the severity.
const PRIORITY = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type LogLevel = keyof typeof PRIORITY;

export function log(level: LogLevel, msg: string): void {
  const line = underSystemd() ? `<${PRIORITY[level]}>${msg}` : `${new Date().toISOString()} ${level}: ${msg}`;
  process.stderr.write(line + '\n');
}
