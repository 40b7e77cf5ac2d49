// A real Prometheus and a real Alertmanager for the tests, on loopback and
// free ports, each with its own scratch storage; and the webhook Alertmanager
// notifies, served here. Every process started is killed when the test
// process exits, also after a failed assertion.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A port nothing listens on now: bound on 127.0.0.1 by the kernel's choice, then released. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value; throws naming `what` (and the last error) after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last}`);
    await sleep(250);
  }
}

export interface Service {
  url: string;
  /** What the process wrote so far, for failure messages. */
  log: () => string;
  stop(): Promise<void>;
}

function startService(command: string, args: string[], url: string, readyPath: string): Promise<Service> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: Service = {
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return until(`${command} to be ready at ${url}${readyPath}`, async () => {
    if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode}:\n${log}`);
    const res = await fetch(url + readyPath);
    await res.text();
    return res.ok ? service : undefined;
  }, 30_000);
}

/** prometheus with `config` (prometheus.yml text) and any rule files beside it, in `dir`. */
export async function startPrometheus(dir: string, config: string, ruleFiles: Record<string, string> = {}): Promise<Service> {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  for (const [name, text] of Object.entries(ruleFiles)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  return startService('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], `http://127.0.0.1:${port}`, '/-/ready');
}

/** prometheus-alertmanager with `config` (alertmanager.yml text), no cluster, its own storage in `dir`. */
export async function startAlertmanager(dir: string, config: string): Promise<Service> {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  return startService('prometheus-alertmanager', [
    `--config.file=${path.join(dir, 'alertmanager.yml')}`,
    `--storage.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ], `http://127.0.0.1:${port}`, '/-/ready');
}

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Webhook {
  url: string;
  /** Every alert of every notification received so far, in order. */
  alerts: WebhookAlert[];
  close(): Promise<void>;
}

/** An HTTP server on loopback that records Alertmanager's webhook notifications. */
export async function startWebhook(): Promise<Webhook> {
  const alerts: WebhookAlert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => (body += s));
    req.on('end', () => {
      try {
        alerts.push(...(JSON.parse(body) as { alerts: WebhookAlert[] }).alerts);
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    alerts,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; throws with Prometheus's own error when it refuses the query. */
export async function query(prometheus: Service, promql: string): Promise<Sample[]> {
  const res = await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
  const doc = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
  if (doc.status !== 'success') throw new Error(`${promql}: ${doc.error}`);
  if (doc.data!.resultType !== 'vector') throw new Error(`${promql}: a ${doc.data!.resultType}, not a vector`);
  return doc.data!.result;
}

/** The values of `label` over the series `selector` matches: what Grafana's label_values() asks. */
export async function labelValues(prometheus: Service, selector: string, label: string): Promise<string[]> {
  const res = await fetch(`${prometheus.url}/api/v1/label/${label}/values?${new URLSearchParams({ 'match[]': selector })}`);
  const doc = (await res.json()) as { status: string; error?: string; data?: string[] };
  if (doc.status !== 'success') throw new Error(`label_values(${selector}, ${label}): ${doc.error}`);
  return doc.data!;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

export async function alerts(prometheus: Service): Promise<PrometheusAlert[]> {
  const doc = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: PrometheusAlert[] } };
  return doc.data.alerts;
}
