// Preloaded (node --require, through NODE_OPTIONS so worker threads load it
// too) by test/startup.test.ts: appends to $DFS_LOAD_RECORD, one line each,
// what a real process does at start-up that costs time: reading
// process.report (napi-rs loaders ask it for the C library: ~10 ms a thread),
// loading a native addon, and, at exit, every module it loaded.
//
// Lines: "<threadId> preload", "<threadId> process.report",
// "<threadId> dlopen <file>", "<threadId> module <file>",
// "<threadId> bundle <file>", "<threadId> bundled <module>".
//
// An executable is a bundle (Makefile, esbuild) that src/cli/bundle-loader.ts
// compiles with vm.Script: the modules in it never pass through
// require.cache. Each is wrapped in esbuild's __commonJS helper and runs on
// its first require; the helper is made to note the module's name (its path
// as built, e.g. dist/src/scrub/pass.js) when it runs one. (The changed
// source no longer matches the bundle's code cache: V8 compiles it afresh.)

import fs from 'node:fs';
import vm from 'node:vm';
import { threadId } from 'node:worker_threads';

/** esbuild's CommonJS wrapper, as 0.28 writes it: `mod` is unset until the module has run. */
const ESBUILD_HELPER = 'var __commonJS = (cb, mod) => function __require() {';
const NOTE_BUNDLED = '__dfsLoadRecorderBundled';

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

  (globalThis as Record<string, unknown>)[NOTE_BUNDLED] = (name: string) => note(`bundled ${name}`);
  const Script = vm.Script;
  vm.Script = class extends Script {
    constructor(code: string, options?: vm.ScriptOptions) {
      const bundle = typeof code === 'string' && code.includes(ESBUILD_HELPER);
      if (bundle) note(`bundle ${options?.filename}`);
      super(bundle ? code.replace(ESBUILD_HELPER, `${ESBUILD_HELPER} if (!mod) globalThis.${NOTE_BUNDLED}(__getOwnPropNames(cb)[0]);`) : code, options);
    }
  };

  process.on('exit', () => {
    for (const file of Object.keys(require.cache)) note(`module ${file}`);
  });
}
