import { GuestmodeError } from './errors.js';

/**
 * Attribute names: 1–128 characters, letters, digits and `. _ : -`, starting with a letter or
 * digit. Narrow on purpose: names travel in URL paths, log lines and SQL keys, and a name like
 * `draft:book-42` is enough to shard documents per attribute.
 */
export const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What a refused attribute name is told; also the OpenAPI description of the name parameter. */
export const ATTRIBUTE_NAME_RULE =
  '1-128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

/** Deeper JSON than this is refused: nobody's cart is 64 levels deep, but a parser bomb is. */
export const MAX_JSON_DEPTH = 64;

export function assertAttributeName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !ATTRIBUTE_NAME_PATTERN.test(name)) {
    throw new GuestmodeError(
      'invalid_attribute_name',
      `Attribute names are ${ATTRIBUTE_NAME_RULE}.`,
    );
  }
}

export function isValidAttributeName(name: unknown): name is string {
  return typeof name === 'string' && ATTRIBUTE_NAME_PATTERN.test(name);
}

/**
 * Serialises a value for storage, refusing what JSON cannot carry faithfully and anything larger
 * than `maxBytes` (UTF-8). The check happens before any write, so a refused value changes nothing.
 * `JSON.stringify` would turn `NaN`, `±Infinity` into `null` and `-0` into `0` without a word;
 * those are refused with the JSON path of the number, like the same numbers in JSON text.
 */
export function encodeAttributeValue(name: string, value: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value, refuseLossyNumbers);
  } catch (cause) {
    if (cause === LOSSY_NUMBER) {
      const found = findLossyNumber(value, '$', 0);
      throw new GuestmodeError(
        'invalid_attribute_value',
        `The value of "${name}" has ${found?.what ?? 'a number JSON cannot carry'} at ${found?.path ?? '$'}.`,
      );
    }
    throw new GuestmodeError(
      'invalid_attribute_value',
      `The value of "${name}" is not serialisable as JSON.`,
      { cause },
    );
  }
  if (json === undefined) {
    throw new GuestmodeError('invalid_attribute_value', `The value of "${name}" is not JSON.`);
  }
  return checkEncodedValue(name, json, maxBytes);
}

/** Thrown (and caught) inside `JSON.stringify` when a number would not survive it. */
const LOSSY_NUMBER = Symbol('lossy number');

function isLossyNumber(value: unknown): value is number {
  return typeof value === 'number' && (!Number.isFinite(value) || (value === 0 && 1 / value < 0));
}

function refuseLossyNumbers(_key: string, value: unknown): unknown {
  if (isLossyNumber(value)) throw LOSSY_NUMBER;
  return value;
}

/** Where the first number that `JSON.stringify` would change is; only run after a refusal. */
function findLossyNumber(
  value: unknown,
  path: string,
  depth: number,
): { what: string; path: string } | undefined {
  if (isLossyNumber(value)) {
    return { what: Number.isFinite(value) ? 'negative zero' : 'a non-finite number', path };
  }
  if (depth > MAX_JSON_DEPTH || typeof value !== 'object' || value === null) return undefined;
  const holder = value as { toJSON?: unknown };
  if (typeof holder.toJSON === 'function') {
    const replaced = (holder.toJSON as () => unknown)();
    if (replaced !== value) return findLossyNumber(replaced, path, depth + 1);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findLossyNumber(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = findLossyNumber(item, pathOf(path, key), depth + 1);
    if (found) return found;
  }
  return undefined;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a`, `$["a b"]`: the JSON path of `key` under `parent`, long keys shortened. */
function pathOf(parent: string, key: string): string {
  if (IDENTIFIER.test(key) && key.length <= 64) return `${parent}.${key}`;
  const shown = key.length > 64 ? `${key.slice(0, 61)}...` : key;
  return `${parent}[${JSON.stringify(shown)}]`;
}

/**
 * Validates JSON text that arrives already serialised (an HTTP body), keeping the caller's
 * bytes so they are not parsed and re-serialised on the hot path. Besides size and depth, the
 * text must be what the merge will produce when it parses and re-serialises the value: no
 * duplicate keys (the last would silently win), no number that overflows to infinity or
 * underflows to zero, no integer beyond 2^53 - 1 (digits would be lost), no `-0`.
 */
export function checkEncodedValue(name: string, json: string, maxBytes: number): string {
  // String length is a lower bound of the UTF-8 size and always an upper bound / 3 of it, which
  // lets most values skip the exact byte count.
  if (
    json.length > maxBytes ||
    (json.length * 3 > maxBytes && Buffer.byteLength(json) > maxBytes)
  ) {
    throw new GuestmodeError(
      'attribute_too_large',
      `The value of "${name}" is larger than ${maxBytes} bytes.`,
    );
  }
  const problem = scanJson(json);
  if (problem !== undefined) {
    throw new GuestmodeError('invalid_attribute_value', `The value of "${name}" ${problem}.`);
  }
  return json;
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
function scanJson(json: string): string | undefined {
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

export function byteLength(json: string): number {
  return Buffer.byteLength(json);
}

/**
 * An attribute value that is already JSON text (an HTTP body, a value read from elsewhere):
 * pass it wherever a value is taken and the text is stored as it is, instead of being parsed
 * and serialised again. Made only by {@link RawJson.parse}, so its text is always JSON.
 *
 * @example
 * ```ts
 * await guestmode.setAttribute(user, 'cart', RawJson.parse(requestBodyText));
 * ```
 */
export class RawJson {
  /** The JSON text, exactly as given. */
  readonly text: string;
  /** Its parse. */
  readonly value: unknown;

  private constructor(text: string, value: unknown) {
    this.text = text;
    this.value = value;
  }

  /** Parses `text`, keeping it as it is. @throws SyntaxError when it is not JSON. */
  static parse(text: string): RawJson {
    if (typeof text !== 'string') throw new TypeError('RawJson.parse needs a string');
    return new RawJson(text, JSON.parse(text));
  }
}

/** The JSON text to store for a value: a {@link RawJson}'s own text, or the value serialised. */
export function encodeValue(name: string, value: unknown, maxBytes: number): string {
  return value instanceof RawJson
    ? checkEncodedValue(name, value.text, maxBytes)
    : encodeAttributeValue(name, value, maxBytes);
}
