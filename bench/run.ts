// Benchmarks: `make bench` runs every section; `node dist/bench/run.js SECTION...`
// runs some. Results are printed, not asserted: they are for PERF-NOTES and for
// spotting regressions by eye. Add a section by adding one entry to `sections`
// (an async function that prints its own lines).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { poolBench } from './pool';
import { scrubBench } from './scrub';
import { extentsBench } from './extents';
import { startupBench } from './startup';
import { asTheWrappersDo } from './measure';

/** Runs a standalone compiled bench script (one that does its work on load). */
function script(file: string): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const js = path.join(__dirname, file);
      if (!fs.existsSync(js)) return reject(new Error(`${js} is not built`));
      const child = spawn(process.execPath, [js], { stdio: 'inherit' });
      child.once('error', reject);
      child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${signal ?? code}`))));
    });
}

export const sections: Record<string, () => Promise<void>> = {
  // put/get throughput of a 1 GiB object (mirror:2, rs:4+2) and Reed-Solomon
  // encode/rebuild, each against `cat` of the same bytes.
  pool: poolBench,
  // verify pass vs cat and b3sum over the same shard files; repair GB/s.
  scrub: scrubBench,
  // light and deep passes over a million 4 KiB extents, in extents per second.
  extents: extentsBench,
  // daemon RSS after passes over 10k and 200k extents, paused CPU, foreground p99 with fio.
  daemon: script('daemon.js'),
  // /metrics and /health scrape latency on a state of a million extents.
  metrics: script('metrics-scrape.js'),
  // node -e 0 against dfs-scrub --help and the status commands (target +30 ms); a verify thread's start.
  startup: startupBench,
};

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: node dist/bench/run.js [SECTION...]\nsections: ${Object.keys(sections).join(', ')} (default: all)`);
    return 0;
  }
  const unknown = argv.filter((a) => !(a in sections));
  if (unknown.length) {
    process.stderr.write(`bench: unknown section ${unknown.join(', ')} (sections: ${Object.keys(sections).join(', ')})\n`);
    return 16;
  }
  const chosen = argv.length ? argv : Object.keys(sections);
  asTheWrappersDo();
  let failed = 0;
  for (const name of chosen) {
    console.log(`\n== ${name}`);
    const t0 = process.hrtime.bigint();
    try {
      await sections[name]();
    } catch (err) {
      failed++;
      process.stderr.write(`bench: section ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    console.log(`== ${name}: ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
  }
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
