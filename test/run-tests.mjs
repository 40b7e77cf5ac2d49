#!/usr/bin/env node
// Test runner: runs every compiled test file dist/test/**/*.test.js as its own
// node process, one after the other, streams its output, and sums uvu's totals.
// The last line of the output is always `N passed, M failed`.
//
// Each file is a separate process so that one file's crash, leaked handle or
// global state cannot hide or break another's results.
//
// Environment:
//   TESTS             regex (or plain substring) matched against test/<path>.test.ts;
//                     several may be given separated by spaces or commas
//   DFS_TEST_TIMEOUT  seconds per test file (default 300)
//
// A file counts as failed (at least 1) when it exits non-zero, is killed, times
// out, or ends without uvu's summary. Exit status is 1 when anything failed or
// when no test ran at all, else 0.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const distTest = join(root, 'dist', 'test');
const timeoutSec = Number(process.env.DFS_TEST_TIMEOUT || 300);
if (!(timeoutSec > 0)) {
  console.error(`run-tests: DFS_TEST_TIMEOUT must be a positive number of seconds, not '${process.env.DFS_TEST_TIMEOUT}'`);
  process.exit(2);
}

/** Compiled test files whose TypeScript source still exists (tsc never deletes stale output). */
function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) {
      const src = join(root, relative(join(root, 'dist'), p)).replace(/\.js$/, '.ts');
      if (existsSync(src)) out.push({ js: p, name: relative(root, src).split(sep).join('/') });
    }
  }
  return out;
}

function selector(spec) {
  const words = (spec || '').split(/[\s,]+/).filter(Boolean);
  if (!words.length) return () => true;
  const tests = words.map((w) => {
    try {
      const re = new RegExp(w);
      return (s) => re.test(s);
    } catch {
      return (s) => s.includes(w);
    }
  });
  return (name) => tests.some((t) => t(name));
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** uvu prints "Total: N / Passed: N / Skipped: N" once at the end of a run. */
function parseSummary(text) {
  const t = strip(text);
  const at = t.lastIndexOf('Total:');
  if (at < 0) return null;
  const tail = t.slice(at);
  const num = (label) => {
    const m = tail.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : null;
  };
  const total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
  if (total === null || passed === null) return null;
  return { total, passed, skipped: skipped ?? 0 };
}

let current = null; // the running child, killed on our own interruption

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    // Own process group, so a timeout kills the test and every child it left.
    const child = spawn(process.execPath, [file.js], {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    current = child;
    let tail = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-65536);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nrun-tests: ${file.name} timed out after ${timeoutSec} s; killing it`);
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 5000).unref();
    }, timeoutSec * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, tail, timedOut, error: err, ms: Date.now() - started });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      current = null;
      // Reap what the test left in its group, then wait (briefly) for stdout to
      // drain: a leaked grandchild holding the pipe must not hang the run.
      killGroup(child, 'SIGKILL');
      const done = () => resolve({ code, signal, tail, timedOut, ms: Date.now() - started });
      if (child.stdout.readableEnded) return done();
      const t = setTimeout(() => {
        child.stdout.destroy();
        done();
      }, 2000);
      child.stdout.on('end', () => {
        clearTimeout(t);
        done();
      });
    });
  });
}

let passed = 0, failed = 0, skipped = 0;
const failedFiles = [];

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) killGroup(current, 'SIGKILL');
    console.error(`\nrun-tests: interrupted (${sig})`);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(130);
  });
}

const all = findTests(distTest);
const files = all.filter((f) => selector(process.env.TESTS)(f.name));
if (!all.length) console.error('run-tests: no compiled tests under dist/test (run `make build`)');
else if (!files.length) console.error(`run-tests: TESTS='${process.env.TESTS}' matches none of ${all.length} test files`);

for (const file of files) {
  console.log(`\n=== ${file.name}`);
  const r = await runOne(file);
  const s = parseSummary(r.tail);
  let p = 0, f = 0, k = 0, why = '';
  if (s) {
    p = s.passed;
    f = s.total - s.passed;
    k = s.skipped;
  }
  if (r.error) why = `could not start: ${r.error.message}`;
  else if (r.timedOut) why = `timed out after ${timeoutSec} s`;
  else if (r.signal) why = `killed by ${r.signal}`;
  else if (r.code !== 0) why = `exited with status ${r.code}`;
  else if (!s) why = 'ended without a uvu summary (no test.run()?)';
  if (why && f === 0) f = 1;
  passed += p;
  failed += f;
  skipped += k;
  if (f) failedFiles.push(file.name);
  const secs = (r.ms / 1000).toFixed(1);
  console.log(`=== ${f ? 'FAIL' : 'ok'} ${file.name}: ${p}/${p + f} (${secs} s)${k ? `, ${k} skipped` : ''}${why ? ` — ${why}` : ''}`);
}

console.log('');
console.log(`Test files: ${files.length}, failed: ${failedFiles.length ? failedFiles.join(' ') : 'none'}`);
if (skipped) console.log(`Skipped tests: ${skipped}`);
if (passed + failed === 0) console.log('No test ran: that is a failure.');
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed + failed === 0 ? 1 : 0;
