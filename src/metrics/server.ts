import http from 'node:http';
import net from 'node:net';
import { errnoCode, operationalError } from '../core/errors';
import { readSnapshots } from './snapshot';
import { renderMetrics } from './registry';
import { healthDocument, healthHttpStatus } from './health';
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page';

// The HTTP endpoint: GET /metrics (Prometheus text 0.0.4), GET /health
// (JSON) and GET / (the HTML status page). Every request reads the persisted state afresh; the server keeps no
// numbers of its own, so it can be restarted at any time without effect on
// the series.

export interface MetricsServerOptions {
  pools: readonly string[];
  host: string;
  port: number;
  /** Where the server reports failures that are not a client's fault. */
  log?: (line: string) => void;
}

export interface MetricsServer {
  host: string;
  port: number;
  /** http://HOST:PORT, IPv6 hosts in brackets. */
  url: string;
  close(): Promise<void>;
}

const ALLOWED = 'GET, HEAD';

export const formatAddress = (host: string, port: number) => (net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, body: string, headers: http.OutgoingHttpHeaders = {}) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    // Every answer describes this instant; a cache in between would lie.
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The path asked for; a target of `//x` is a path too, not a host name. */
const routeOf = (target = '/') => (target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target, 'http://localhost')).pathname;

async function handle(opts: MetricsServerOptions, req: http.IncomingMessage, res: http.ServerResponse) {
  const route = routeOf(req.url);
  if (route !== '/metrics' && route !== '/health' && route !== '/') {
    return send(req, res, 404, 'text/plain; charset=utf-8', `not found: ${route} (try /, /metrics or /health)\n`);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(req, res, 405, 'text/plain; charset=utf-8', `method ${req.method} not allowed: use GET\n`, { Allow: ALLOWED });
  }
  const snapshots = readSnapshots(opts.pools);
  if (route === '/metrics') {
    const { contentType, text } = await renderMetrics(snapshots);
    return send(req, res, 200, contentType, text);
  }
  if (route === '/') {
    return send(req, res, 200, 'text/html; charset=utf-8', renderStatusPage(snapshots), { 'Content-Security-Policy': STATUS_PAGE_CSP });
  }
  const doc = healthDocument(snapshots);
  return send(req, res, healthHttpStatus(doc), 'application/json; charset=utf-8', JSON.stringify(doc, null, 2) + '\n');
}

function listenError(err: unknown, address: string) {
  const code = errnoCode(err);
  const why =
    code === 'EADDRINUSE' ? 'address already in use'
    : code === 'EADDRNOTAVAIL' ? 'address not available on this host'
    : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
    : code ?? (err instanceof Error ? err.message : String(err));
  return operationalError(`cannot listen on ${address}: ${why}`);
}

/**
 * Renders /metrics once, unsent, before the first scrape comes: that one
 * otherwise pays for compiling the code of the snapshot, the registry and
 * prom-client and for walking the schedules' calendars, on a machine where a
 * scrub at max leaves it little CPU (138 ms where later scrapes took 11 ms,
 * beside a daemon at max on a million extents). Never fails the start: an
 * unreadable pool is the scrape's to report.
 */
async function warmUp(pools: readonly string[]): Promise<void> {
  try {
    await renderMetrics(readSnapshots(pools));
  } catch {
    // The scrape will meet the same and say so.
  }
}

/** Starts listening; rejects with an operational error (exit 8) naming the address. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  await warmUp(opts.pools);
  const server = http.createServer((req, res) => {
    // Drain any request body: it is never read, but must not stall the socket.
    req.resume();
    handle(opts, req, res).catch((err: unknown) => {
      log(`request ${req.method} ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', 'internal error, see the exporter\'s log\n');
      else res.destroy();
    });
  });
  // Slow or idle clients must not hold the process open at shutdown or pile up.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wanted = formatAddress(opts.host, opts.port);
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, wanted)));
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log(`server error: ${err.message}`));
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        host: opts.host,
        port,
        url: `http://${formatAddress(opts.host, port)}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive connections (Prometheus keeps one open) would hold close() forever.
            server.closeAllConnections();
          }),
      });
    });
  });
}
