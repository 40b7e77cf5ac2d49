import kleur from 'kleur';

// kleur decides colour from the stream: none when stdout is not a terminal.
kleur.enabled = !!process.stdout.isTTY && !process.env.NO_COLOR;

export { printable } from '../core/printable';
import { printable } from '../core/printable';
export { bytes, duration } from '../text/quantities';

export function stateColor(state: string): string {
  state = printable(state);
  if (state === 'online' || state === 'healthy' || state === 'clean' || state === 'ok') return kleur.green(state);
  if (state === 'degraded' || state === 'read-only' || state === 'repaired' || state === 'missing' || state === 'rebuilding') return kleur.yellow(state);
  return kleur.red(state);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => visible(r[c] ?? ''))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + ' '.repeat(widths[c] - visible(cell)))).join('  ')).join('\n');
}
