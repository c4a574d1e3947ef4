// A single pass over JSON text that finds what a parse and re-serialisation would not keep, so
// that text received from a client can be stored as it is, without a parse on the hot path.

/** Deeper JSON than this is refused: nobody's cart is 64 levels deep, but a parser bomb is. */
export const MAX_JSON_DEPTH = 64;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a`, `$["a b"]`: the JSON path of `key` under `parent`, long keys shortened. */
export function pathOf(parent: string, key: string): string {
  if (IDENTIFIER.test(key) && key.length <= 64) return `${parent}.${key}`;
  const shown = key.length > 64 ? `${key.slice(0, 61)}...` : key;
  return `${parent}[${JSON.stringify(shown)}]`;
}

// What the scanner expects next.
const VALUE = 0;
const KEY = 1;
const AFTER = 2;

/** Objects with more keys than this check duplicates with a set instead of by comparison. */
const SMALL_OBJECT = 16;

/** One open object or array while scanning: where it is, and the keys seen so far. */
interface Frame {
  object: boolean;
  /** The current element's index (arrays). */
  index: number;
  /** Where the keys of this object are in the text (without quotes); the last is the current. */
  starts: number[];
  ends: number[];
  /** Decoded keys, once the object is large or has an escaped key. */
  keys: Set<string> | undefined;
}

/** A key as the parser would see it (escapes decoded). */
function keyAt(json: string, start: number, end: number): string {
  const raw = json.slice(start, end);
  return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
}

function framePath(json: string, stack: Frame[], depth: number): string {
  let path = '$';
  for (let d = 0; d < depth; d++) {
    const frame = stack[d]!;
    const last = frame.starts.length - 1;
    path = frame.object
      ? pathOf(path, keyAt(json, frame.starts[last]!, frame.ends[last]!))
      : `${path}[${frame.index}]`;
  }
  return path;
}

/** Whether the key at `[start, end)` was seen before in `frame`; records it either way. */
function duplicateKey(json: string, frame: Frame, start: number, end: number, escaped: boolean) {
  const { starts, ends } = frame;
  const count = starts.length;
  starts.push(start);
  ends.push(end);
  if (frame.keys === undefined && !escaped && count < SMALL_OBJECT) {
    const length = end - start;
    for (let k = 0; k < count; k++) {
      const s = starts[k]!;
      if (ends[k]! - s !== length) continue;
      let same = true;
      for (let j = 0; j < length; j++) {
        if (json.charCodeAt(s + j) !== json.charCodeAt(start + j)) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    return false;
  }
  if (frame.keys === undefined) {
    frame.keys = new Set();
    for (let k = 0; k < count; k++) frame.keys.add(keyAt(json, starts[k]!, ends[k]!));
  }
  const key = keyAt(json, start, end);
  if (frame.keys.has(key)) return true;
  frame.keys.add(key);
  return false;
}

/**
 * Side results of the last token skipped: whether the string ({@link skipString}) had a
 * backslash escape, and whether the number ({@link scanNumber}) has no fraction or exponent.
 */
const last = { escaped: false, integer: false };

/**
 * One pass over JSON text, no parse: syntax, depth, duplicate keys and numbers that would not
 * survive a parse and re-serialisation. Returns what is wrong (with the JSON path) or nothing.
 */
export function scanJson(json: string): string | undefined {
  const n = json.length;
  const stack: Frame[] = [];
  let depth = 0;
  let expect = VALUE;
  let i = 0;
  for (;;) {
    let c = json.charCodeAt(i);
    // Whitespace: space, tab, line feed, carriage return.
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = json.charCodeAt(++i);
    if (i >= n) {
      return depth === 0 && expect === AFTER ? undefined : 'is not valid JSON (it ends early)';
    }
    if (expect === AFTER) {
      if (depth === 0) return `is not valid JSON (unexpected text at character ${i})`;
      const frame = stack[depth - 1]!;
      if (c === 0x2c /* , */) {
        i++;
        if (frame.object) expect = KEY;
        else {
          frame.index++;
          expect = VALUE;
        }
      } else if (c === (frame.object ? 0x7d /* } */ : 0x5d) /* ] */) {
        i++;
        depth--;
      } else {
        return `is not valid JSON (unexpected character at ${i})`;
      }
      continue;
    }
    if (expect === KEY) {
      if (c !== 0x22) return `is not valid JSON (expected a key at character ${i})`;
      const end = skipString(json, i);
      if (end < 0) return `is not valid JSON (bad string at character ${i})`;
      const frame = stack[depth - 1]!;
      if (duplicateKey(json, frame, i + 1, end - 1, last.escaped)) {
        const key = keyAt(json, i + 1, end - 1);
        return `has the key ${JSON.stringify(key.length > 64 ? `${key.slice(0, 61)}...` : key)} twice at ${framePath(json, stack, depth - 1)}`;
      }
      i = end;
      c = json.charCodeAt(i);
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = json.charCodeAt(++i);
      if (c !== 0x3a /* : */) return `is not valid JSON (expected ":" at character ${i})`;
      i++;
      expect = VALUE;
      continue;
    }
    // A value.
    if (c === 0x22 /* " */) {
      i = skipString(json, i);
      if (i < 0) return 'is not valid JSON (bad string)';
      expect = AFTER;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth === MAX_JSON_DEPTH) return `is nested deeper than ${MAX_JSON_DEPTH} levels`;
      const object = c === 0x7b;
      let frame = stack[depth];
      if (frame === undefined) {
        frame = { object, index: 0, starts: [], ends: [], keys: undefined };
        stack.push(frame);
      } else {
        frame.object = object;
        frame.index = 0;
        frame.starts.length = 0;
        frame.ends.length = 0;
        frame.keys = undefined;
      }
      depth++;
      c = json.charCodeAt(++i);
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = json.charCodeAt(++i);
      if (c === (object ? 0x7d : 0x5d)) {
        i++;
        depth--;
        expect = AFTER;
      } else {
        expect = object ? KEY : VALUE;
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const end = scanNumber(json, i);
      if (end < 0) return `is not valid JSON (bad number at character ${i})`;
      const problem = lossyNumber(json, i, end, last.integer);
      if (problem !== undefined) return `has ${problem} at ${framePath(json, stack, depth)}`;
      i = end;
      expect = AFTER;
    } else if (c === 0x74 /* t */ && json.startsWith('true', i)) {
      i += 4;
      expect = AFTER;
    } else if (c === 0x66 /* f */ && json.startsWith('false', i)) {
      i += 5;
      expect = AFTER;
    } else if (c === 0x6e /* n */ && json.startsWith('null', i)) {
      i += 4;
      expect = AFTER;
    } else {
      return `is not valid JSON (unexpected character at ${i})`;
    }
  }
}

/**
 * Characters a JSON string holds as they are: U+0020 and above except `"` (U+0022) and `\`
 * (U+005C), as code units, so surrogates pass like `JSON.parse` lets them.
 */
const PLAIN = /[ !#-[\]-\uffff]*/y;

/** The index after the string that opens at `start` (a `"`), or -1 when it is not valid. */
function skipString(json: string, start: number): number {
  const n = json.length;
  last.escaped = false;
  for (let j = start + 1; j < n; j++) {
    let c = json.charCodeAt(j);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      if (j - start < 16) continue;
      // Long runs of plain characters go through the regular expression engine's compiled loop.
      PLAIN.lastIndex = j;
      PLAIN.test(json);
      j = PLAIN.lastIndex;
      c = json.charCodeAt(j);
    }
    if (c === 0x22) return j + 1;
    if (c !== 0x5c /* \ */) return -1; // a control character, or the end of the text
    last.escaped = true;
    const e = json.charCodeAt(++j);
    if (e === 0x75 /* u */) {
      for (let k = 1; k <= 4; k++) {
        const h = json.charCodeAt(j + k) | 0x20;
        if (!((h >= 0x30 && h <= 0x39) || (h >= 0x61 && h <= 0x66))) return -1;
      }
      j += 4;
    } else if (
      e !== 0x22 &&
      e !== 0x5c &&
      e !== 0x2f &&
      e !== 0x62 &&
      e !== 0x66 &&
      e !== 0x6e &&
      e !== 0x72 &&
      e !== 0x74
    ) {
      return -1;
    }
  }
  return -1;
}

/** The index after the number that starts at `start`, or -1 when it is not a JSON number. */
function scanNumber(json: string, start: number): number {
  let j = start;
  last.integer = true;
  if (json.charCodeAt(j) === 0x2d) j++;
  let c = json.charCodeAt(j);
  if (c === 0x30) c = json.charCodeAt(++j);
  else if (c >= 0x31 && c <= 0x39) {
    do c = json.charCodeAt(++j);
    while (c >= 0x30 && c <= 0x39);
  } else return -1;
  if (c === 0x2e /* . */) {
    last.integer = false;
    c = json.charCodeAt(++j);
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do c = json.charCodeAt(++j);
    while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45 /* e E */) {
    last.integer = false;
    c = json.charCodeAt(++j);
    if (c === 0x2b || c === 0x2d) c = json.charCodeAt(++j);
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do c = json.charCodeAt(++j);
    while (c >= 0x30 && c <= 0x39);
  }
  return j;
}

/**
 * What is wrong with the number text `json[start, end)` if a parse and re-serialisation would
 * change it. Short integers (the usual quantities and ids) are decided without converting.
 */
function lossyNumber(
  json: string,
  start: number,
  end: number,
  integer: boolean,
): string | undefined {
  const negative = json.charCodeAt(start) === 0x2d;
  const digits = end - start - (negative ? 1 : 0);
  if (integer && digits <= 15) {
    return negative && digits === 1 && json.charCodeAt(start + 1) === 0x30
      ? 'negative zero'
      : undefined;
  }
  const value = Number(json.slice(start, end));
  if (integer) {
    // Sixteen digits or more: never zero (no leading zeros in JSON), maybe beyond 2^53 - 1.
    return Number.isSafeInteger(value)
      ? undefined
      : 'an integer beyond 2^53 - 1 (its digits would be lost)';
  }
  if (!Number.isFinite(value)) return 'a number too large for JSON numbers (it becomes null)';
  if (value === 0) {
    if (negative) return 'negative zero';
    // Any non-zero digit before the exponent means the number underflowed to zero.
    for (let j = start; j < end; j++) {
      const c = json.charCodeAt(j);
      if (c === 0x65 || c === 0x45) break;
      if (c >= 0x31 && c <= 0x39) return 'a number too small for JSON numbers (it becomes 0)';
    }
  }
  return undefined;
}
