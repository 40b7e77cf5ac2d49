import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ControlRequest, ControlResponse } from './protocol';
import { errnoCode, fsFailure } from '../core/errors';
import { socketDirReady } from './socket-path';

export type ControlHandler = (req: ControlRequest) => Promise<ControlResponse> | ControlResponse;

/**
 * Listens on the control socket with mode 0600 (0660 with a group). The
 * caller holds the pool lock, so a socket file already there was left by a
 * killed daemon: it is removed, not fatal.
 */
export async function startControlServer(socketPath: string, handler: ControlHandler, group?: number): Promise<net.Server> {
  socketDirReady(path.dirname(socketPath));
  try {
    fs.unlinkSync(socketPath);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw fsFailure('cannot remove stale socket', socketPath, err);
  }
  const server = net.createServer((conn) => {
    let buf = '';
    conn.on('error', () => conn.destroy());
    conn.on('data', async (d) => {
      buf += d.toString('utf8');
      if (buf.length > 64 * 1024) return conn.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let res: ControlResponse;
      try {
        res = await handler(JSON.parse(buf.slice(0, nl)) as ControlRequest);
      } catch (err) {
        res = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      conn.end(JSON.stringify(res) + '\n');
    });
  });
  // The umask makes the socket private from its first moment.
  const oldMask = process.umask(group === undefined ? 0o177 : 0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  // The umask gave the mode; the group is set on the socket itself (lchown never follows a link swapped in).
  if (group !== undefined) fs.lchownSync(socketPath, -1, group);
  return server;
}
