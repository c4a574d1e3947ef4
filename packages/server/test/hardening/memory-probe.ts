// Loaded into the `guestmode serve` child of the soak test with `--expose-gc --import`: answers
// "memory" on the IPC channel with the process's RSS and its heap after a full collection, so
// the test measures the server, not itself. The channel is unref'd so it never keeps the server
// alive after a graceful shutdown.
process.on('message', (message) => {
  if (message !== 'memory' || !process.send) return;
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.send({ rss, heapUsed });
});
process.channel?.unref();
