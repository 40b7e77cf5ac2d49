import net from 'node:net';
import { ControlRequest, ControlResponse } from './protocol';
import { errnoCode } from '../core/errors';

export class NoDaemon extends Error {}

/** Sends one request to the daemon; NoDaemon when nothing listens at the socket. */
export function sendControl(socketPath: string, req: ControlRequest, timeoutMs = 10_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as ControlResponse);
        } catch {
          reject(new Error(`bad answer from ${socketPath}`));
        }
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ECONNREFUSED') reject(new NoDaemon(`no daemon is running (nothing listens at ${socketPath})`));
      else reject(err);
    });
  });
}
