/**
 * libuv's thread pool runs every async fs call, and has 4 threads unless told
 * otherwise: a repair's writes and fsyncs then go to disk 4 at a time, and a
 * device that takes 32 in flight gives 4x more (PERF-NOTES: 16 fsynced 1 MiB
 * writes in flight 0.7 GB/s here, 4 in flight 0.24). libuv reads the size
 * once, at the first request to the pool, so this must run before any async
 * fs call; an operator's own UV_THREADPOOL_SIZE wins.
 */
export function widenIoThreads(size = 32): void {
  if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(size);
}
