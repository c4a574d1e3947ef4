import { GuestmodeError } from './errors.js';
import { MAX_JSON_DEPTH, pathOf, scanJson } from './json-scan.js';

export { MAX_JSON_DEPTH } from './json-scan.js';

/**
 * Attribute names: 1–128 characters, letters, digits and `. _ : -`, starting with a letter or
 * digit. Narrow on purpose: names travel in URL paths, log lines and SQL keys, and a name like
 * `draft:book-42` is enough to shard documents per attribute.
 */
export const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What a refused attribute name is told; also the OpenAPI description of the name parameter. */
export const ATTRIBUTE_NAME_RULE =
  '1-128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

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
