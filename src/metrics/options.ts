import net from 'node:net';
import path from 'node:path';
import { usageError } from '../core/errors';

// Validation of dfs-metrics' option values. sade/mri hand over whatever the
// command line held (string, number, true for a bare flag, an array when
// repeated); each parser turns that into one checked value or a usage error
// (exit 16) that names the option.

export const DEFAULT_LISTEN = '127.0.0.1';
/** The guide's port (`metrics-server --port 9090`, scrape target localhost:9090). */
export const DEFAULT_PORT = 9090;
export const DEFAULT_INTERVAL_SECONDS = 60;
export const DEFAULT_TEXTFILE_NAME = 'dynamicfs.prom';

function single(option: string, raw: unknown): string {
  if (Array.isArray(raw)) throw usageError(`${option} given more than once`);
  if (raw === true || raw === '' || raw === undefined || raw === null) throw usageError(`${option} needs a value`);
  return String(raw);
}

/** Every --pool given (repeatable), made absolute: the `pool` label of its series. */
export function parsePools(raw: unknown): string[] {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw usageError('--pool PATH is required (repeat it to export several pools)');
  const seen = new Set<string>();
  return list.map((p) => {
    if (p === true || p === '') throw usageError('--pool needs a value');
    const abs = path.resolve(String(p));
    if (seen.has(abs)) throw usageError(`--pool ${String(p)} given twice`);
    seen.add(abs);
    return abs;
  });
}

/** 0 asks the kernel for a free port (tests); the address is logged at start. */
export function parsePort(raw: unknown): number {
  const text = single('--port', raw);
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw usageError(`--port ${text}: expected a whole number from 0 to 65535`);
  return n;
}

/**
 * --listen takes an IP address (`127.0.0.1`, `0.0.0.0`, `::`, `[::1]`) or
 * `localhost`; the port is --port's. Host names are refused: what they
 * resolve to can change under a running exporter.
 */
export function parseListen(raw: unknown): string {
  const text = single('--listen', raw).trim();
  const host = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  // localhost means loopback IPv4, like the default: resolving it could pick
  // ::1 on some hosts while the guide's scrape target expects 127.0.0.1.
  if (host === 'localhost') return DEFAULT_LISTEN;
  if (net.isIP(host) === 0) {
    const hint = /:\d+$/.test(text) && net.isIP(text.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')) ? ' (give the port with --port)' : '';
    throw usageError(`--listen ${text}: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1${hint}`);
  }
  return host;
}

/** --interval: seconds, or a number with s, m or h (`60s`, `5m`); at least 1 s. */
export function parseInterval(raw: unknown): number {
  const text = single('--interval', raw).trim();
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  const seconds = m ? Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1) : NaN;
  if (!(seconds >= 1 && seconds <= 86400)) {
    throw usageError(`--interval ${text}: expected a duration from 1s to 24h, such as 60s or 5m`);
  }
  return seconds;
}

/** --textfile-dir: the directory node_exporter's --collector.textfile.directory names. */
export const parseTextfileDir = (raw: unknown): string => single('--textfile-dir', raw);

/**
 * --textfile-name: a plain file name ending in .prom (node_exporter reads only
 * `*.prom`). One name per exporter process: two writers sharing one name would
 * overwrite each other's pools.
 */
export function parseTextfileName(raw: unknown): string {
  const text = single('--textfile-name', raw);
  if (!/^[A-Za-z0-9_@:,+=\\-][A-Za-z0-9_@:,+=.\\-]*\.prom$/.test(text)) {
    throw usageError(`--textfile-name ${text}: expected a file name ending in .prom, without directories`);
  }
  return text;
}
