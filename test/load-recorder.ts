// Preloaded (node --require, through NODE_OPTIONS so worker threads load it
// too) by test/startup.test.ts: appends to $DFS_LOAD_RECORD, one line each,
// what a real process does at start-up that costs time: reading
// process.report (napi-rs loaders ask it for the C library: ~10 ms a thread),
// loading a native addon, and, at exit, every module it loaded.
//
// Lines: "<threadId> preload", "<threadId> process.report",
// "<threadId> dlopen <file>", "<threadId> module <file>".

import fs from 'node:fs';
import { threadId } from 'node:worker_threads';

const record = process.env.DFS_LOAD_RECORD;
if (record) {
  const note = (what: string) => fs.appendFileSync(record, `${threadId} ${what}\n`);
  note('preload');

  const report = Object.getOwnPropertyDescriptor(process, 'report');
  if (report) {
    Object.defineProperty(process, 'report', {
      configurable: true,
      enumerable: report.enumerable,
      get() {
        note('process.report');
        return report.get ? report.get.call(process) : report.value;
      },
    });
  }

  const dlopen = process.dlopen;
  process.dlopen = function (this: NodeJS.Process, module: object, filename: string, ...rest: unknown[]) {
    note(`dlopen ${filename}`);
    return (dlopen as (...a: unknown[]) => void).call(this, module, filename, ...rest);
  } as typeof process.dlopen;

  process.on('exit', () => {
    for (const file of Object.keys(require.cache)) note(`module ${file}`);
  });
}
