import kleur from 'kleur';

// kleur decides colour from the stream: none when stdout is not a terminal.
kleur.enabled = !!process.stdout.isTTY && !process.env.NO_COLOR;

export { printable } from '../core/printable';
import { printable } from '../core/printable';

export function bytes(n: number): string {
  // A size read from a damaged or hostile file may be anything.
  if (typeof n !== 'number' || !Number.isFinite(n)) return printable(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

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
