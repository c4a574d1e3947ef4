import { BlockList, isIP, isIPv4 } from 'node:net';
import { optionError } from './options.js';

/**
 * Which proxies in front of the app may say who the client is through `X-Forwarded-For`: a number
 * of hops (`0`: none, the peer is the client; `1`: one proxy that appends the address it saw), or
 * the addresses and CIDR ranges of the proxies. Never "everyone": the leftmost `X-Forwarded-For`
 * entry is whatever the client chose to send.
 */
export type TrustedProxies = number | readonly string[];

/** The most hops {@link parseTrustedProxies} accepts: no real deployment chains more proxies. */
export const MAX_TRUSTED_HOPS = 10;

/**
 * Reads a trusted-proxy setting: `false`/`off`/`0` (none), a hop count `1`…`10`, or a
 * comma-separated list of addresses and CIDR ranges (`10.0.0.0/8, fd00::/8`). `true` is refused,
 * because trusting every hop lets each request claim a fresh address.
 *
 * @throws TypeError naming `setting`, with a message fit to show the operator.
 * @example
 * ```ts
 * parseTrustedProxies('1'); // 1
 * parseTrustedProxies('10.0.0.0/8,127.0.0.1'); // ['10.0.0.0/8', '127.0.0.1']
 * ```
 */
export function parseTrustedProxies(value: string, setting = 'trustProxy'): TrustedProxies {
  const v = value.trim().toLowerCase();
  if (['', 'false', 'off', 'no', 'none', '0'].includes(v)) return 0;
  if (['true', 'on', 'yes'].includes(v)) {
    throw optionError(
      setting,
      `"${value}" would believe any X-Forwarded-For; give the number of proxies in front (1, 2) or their addresses/CIDRs`,
    );
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > MAX_TRUSTED_HOPS) {
      throw optionError(setting, `"${value}" must be a hop count from 0 to ${MAX_TRUSTED_HOPS}`);
    }
    return hops;
  }
  const entries = value.split(',').map((entry) => entry.trim());
  toBlockList(entries, setting);
  return entries;
}

function toBlockList(entries: readonly string[], setting: string): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
    const max = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && (bits < 0 || bits > max))) {
      throw optionError(setting, `"${entry}" is not an IP address or CIDR range`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/** An address without an IPv6 zone, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
function normalise(address: string): string {
  const bare = address.trim().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1]! : bare;
}

/**
 * Builds the function that tells who the client of a request is: its socket's peer address,
 * walked back through `X-Forwarded-For` (right to left, the order proxies append) only as far as
 * the trusted proxies reach. An entry that is not an IP address stops the walk.
 *
 * @example
 * ```ts
 * const clientOf = createClientAddressResolver(1);
 * clientOf('10.0.0.5', 'spoofed, 203.0.113.7'); // '203.0.113.7'
 * ```
 */
export function createClientAddressResolver(
  trust: TrustedProxies,
): (
  socketAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
) => string {
  const hops = typeof trust === 'number' ? trust : undefined;
  if (
    (hops === undefined && !Array.isArray(trust)) ||
    (hops !== undefined && !(Number.isSafeInteger(hops) && hops >= 0 && hops <= MAX_TRUSTED_HOPS))
  ) {
    throw optionError('trustProxy', `must be a hop count from 0 to ${MAX_TRUSTED_HOPS} or a list`);
  }
  const list = typeof trust === 'number' ? undefined : toBlockList(trust, 'trustProxy');
  const trusted = (address: string, hop: number): boolean => {
    if (hops !== undefined) return hop < hops;
    const family = isIP(address);
    return family !== 0 && list!.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (socketAddress, forwardedFor) => {
    let address = normalise(socketAddress ?? '');
    if (!trusted(address, 0) || forwardedFor === undefined) return address;
    const chain = (typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor)
      .join(',')
      .split(',');
    for (let hop = 0; chain.length > 0 && trusted(address, hop); hop++) {
      const next = normalise(chain.pop()!);
      if (isIP(next) === 0) break;
      address = next;
    }
    return address;
  };
}

/**
 * The bucket a client address is counted in: an IPv4 address as it is, an IPv6 address by its
 * /64 prefix (one subscriber usually holds a whole /64, so counting single IPv6 addresses would
 * give one machine 2^64 budgets).
 *
 * @example
 * ```ts
 * rateLimitKey('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 * ```
 */
export function rateLimitKey(address: string): string {
  const bare = normalise(address);
  if (isIPv4(bare) || isIP(bare) !== 6) return bare;
  const [head = '', tail] = bare.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  // An embedded IPv4 tail (`::1.2.3.4`) takes two groups; only the first four groups matter.
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - width(left) - width(right)).fill('0'), ...right];
  const prefix = groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}

/**
 * {@link createClientAddressResolver} and {@link rateLimitKey} in one: the rate-limit key of a
 * request, from its peer address and `X-Forwarded-For`.
 */
export function createRateLimitKeyResolver(
  trust: TrustedProxies,
): (
  socketAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
) => string {
  const clientOf = createClientAddressResolver(trust);
  return (socketAddress, forwardedFor) => rateLimitKey(clientOf(socketAddress, forwardedFor));
}

/**
 * The key every client shares when no proxy is trusted and the request carries no socket address
 * to count by (Next's App Router): one budget for all, which a client cannot dodge by naming
 * another address.
 */
export const SHARED_CLIENT_KEY = 'shared';

/**
 * The rate-limit key for a server that only sees headers, not the peer's socket (Next's App
 * Router behind `next start`, which copies the peer into `X-Forwarded-For` only when the request
 * has none, so a client can write that header itself). `trust` counts the proxies in front of
 * the server: the rightmost `X-Forwarded-For` entry (or `X-Real-IP` without it) is what the
 * nearest proxy saw, and the chain is walked back as far as `trust` reaches. With nothing
 * trusted, or no address at all, the answer is {@link SHARED_CLIENT_KEY}.
 *
 * @example
 * ```ts
 * const keyOf = createForwardedKeyResolver(1);
 * keyOf('spoofed, 203.0.113.7', undefined); // '203.0.113.7'
 * createForwardedKeyResolver(0)('203.0.113.7', undefined); // 'shared'
 * ```
 */
export function createForwardedKeyResolver(
  trust: TrustedProxies,
): (forwardedFor: string | undefined, realIp: string | undefined) => string {
  createClientAddressResolver(trust); // checks the setting
  const none = trust === 0 || (Array.isArray(trust) && trust.length === 0);
  // The nearest proxy is one of the trusted hops; the rest of the chain is walked from it.
  const clientOf = none
    ? undefined
    : createClientAddressResolver(typeof trust === 'number' ? trust - 1 : trust);
  return (forwardedFor, realIp) => {
    if (!clientOf) return SHARED_CLIENT_KEY;
    const chain = (forwardedFor ?? realIp ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    const nearest = chain.pop();
    if (nearest === undefined || isIP(normalise(nearest)) === 0) return SHARED_CLIENT_KEY;
    return rateLimitKey(clientOf(nearest, chain.length > 0 ? chain.join(',') : undefined));
  };
}
