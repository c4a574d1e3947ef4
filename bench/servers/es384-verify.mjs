// The ES384 verification rate: jose's jwtVerify over the access tokens it is handed, with the
// checks the server's verifier makes (issuer, audience, alg, typ), `inFlight` at a time, in one
// worker thread. Plain JavaScript so that no loader runs in it.
import { parentPort, workerData } from 'node:worker_threads';
import { createLocalJWKSet, jwtVerify } from 'jose';

const { tokens, jwks, issuer, audience, warmupSeconds, seconds, inFlight } = workerData;
const keys = createLocalJWKSet(jwks);
const options = { issuer, audience, algorithms: ['ES384'], typ: 'at+jwt' };

async function measure(forSeconds, latencies) {
  const end = performance.now() + forSeconds * 1000;
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const token = tokens[next++ % tokens.length];
        const t0 = performance.now();
        try {
          await jwtVerify(token, keys, options);
        } catch {
          failures++;
        }
        latencies?.push(performance.now() - t0);
      }
    }),
  );
  return { count: next, failures, seconds: (performance.now() - started) / 1000 };
}

await measure(warmupSeconds);
const latencies = [];
const result = await measure(seconds, latencies);
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
parentPort.postMessage({
  ...result,
  p50: at(0.5),
  p90: at(0.9),
  p99: at(0.99),
  max: latencies[latencies.length - 1] ?? 0,
});
