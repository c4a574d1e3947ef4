// Micro-benchmark of the attribute value check on the write path (`checkEncodedValue`), the
// code every PUT of the HTTP service runs over the body text. Run:
//   node --import tsx bench/value-check.ts
// Prints operations per second of CPU time for a 1 KiB and a 64 KiB value of each shape, and JSON.parse of
// the same text for scale.
import { checkEncodedValue } from '../packages/core/src/attributes.js';

function cart(bytes: number): string {
  const lines: unknown[] = [];
  let json = '[]';
  for (let i = 0; json.length < bytes - 120; i++) {
    lines.push({ id: `book-${i}`, quantity: (i % 7) + 1, price: 12.5 + i, title: `Title ${i}` });
    json = JSON.stringify(lines);
  }
  return json;
}

function text(bytes: number): string {
  return JSON.stringify({ note: 'x'.repeat(bytes - 12) });
}

const LIMIT = 64 * 1024;
const cases: Array<[string, string]> = [
  ['cart 1 KiB', cart(1024)],
  ['cart 64 KiB', cart(LIMIT)],
  ['string 1 KiB', text(1024)],
  ['string 64 KiB', text(LIMIT)],
];

/** Calls per second of CPU time (not wall time: the machine may be shared). */
function opsPerSecond(run: () => void, ms = 1000): number {
  for (let i = 0; i < 200; i++) run();
  let count = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 50; i++) run();
    count += 50;
    const { user, system } = process.cpuUsage(start);
    used = user + system;
  }
  return Math.round(count / (used / 1e6));
}

for (const [name, json] of cases) {
  const check = opsPerSecond(() => checkEncodedValue('v', json, LIMIT));
  const parse = opsPerSecond(() => JSON.parse(json));
  console.log(
    `${name.padEnd(14)} ${String(json.length).padStart(6)} B  check ${check.toLocaleString('en').padStart(10)} ops/s  JSON.parse ${parse.toLocaleString('en').padStart(10)} ops/s`,
  );
}
