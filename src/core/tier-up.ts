import v8 from 'node:v8';

/**
 * V8 hands a function to its optimizing compiler once the function has used
 * up its interrupt budget (bytecode run) three times; the compiler runs on
 * background threads that share the cores with the pass. Each verify thread
 * compiles its own copies of the same functions, and on a warm pass they are
 * the listing and the per-file calls around reads and hashes that take a few
 * ms each: measured on 2 cores over a warm 4 GiB rs:4+2 pool, the compile
 * threads took a fifth of the CPU while the pass ran (perf), for code the
 * pass then left after half a second. With eight times the budget (Node 20's
 * is 66 KiB; four times Node 18's, whose own is 132 KiB) a function is
 * compiled only once it has run for longer: 36 compiles instead of 96, the
 * warm pass's whole command 8% faster in wall and CPU time (20 alternating
 * runs: 0.840 s against 0.915, CPU 1.565 s against 1.675), a million 4 KiB
 * extents as fast (hot loops still compile, a little later). A value the
 * operator gave node wins.
 *
 * Called once the threads have loaded (VerifyWorkers.started), not before:
 * V8 takes node's code cache for node's own modules only under the flags it
 * was made with, so a thread that loads them after the change compiles them
 * from source (a thread's start to its first message: 60 ms against 25-30).
 */
const INTERRUPT_BUDGET = 8 * 67_584;

export function tierUpLater(): void {
  if (process.execArgv.some((a) => a.startsWith('--interrupt-budget'))) return;
  // Process-wide, read by V8 each time a function's budget is renewed: every thread's functions from their next renewal.
  v8.setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
}
