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
 */
export function encodeAttributeValue(name: string, value: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
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

/**
 * Validates JSON text that arrives already serialised (an HTTP body), keeping the caller's
 * bytes so they are not parsed and re-serialised on the hot path.
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
  if (jsonDepth(json) > MAX_JSON_DEPTH) {
    throw new GuestmodeError(
      'invalid_attribute_value',
      `The value of "${name}" is nested deeper than ${MAX_JSON_DEPTH} levels.`,
    );
  }
  return json;
}

/** Nesting depth of JSON text, skipping string contents; one pass, no allocation. */
function jsonDepth(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return max;
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
