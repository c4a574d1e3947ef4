import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a webhook must not reach unless private networks are allowed: loopback, private,
 * shared, link-local (the cloud metadata service, 169.254.169.254), unique local (fc00::/7,
 * fd00::/8 among them), multicast, reserved and unspecified ranges.
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** True when `address` (an IP literal) is internal; an IPv4-mapped IPv6 address is unwrapped. */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  const family = isIP(bare);
  if (family === 0) return true;
  return INTERNAL.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
}

/**
 * A DNS lookup for the connection itself that refuses internal addresses: the address checked is
 * the address connected to, so a name that resolves differently a second time (DNS rebinding)
 * gains nothing.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.find((a) => isInternalAddress(a.address));
    if (blocked || addresses.length === 0) {
      return callback(
        new BlockedAddressError(`${hostname} resolves to an internal address`),
        '',
        0,
      );
    }
    if (options.all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/** What an attempt came to: the status, or why there was none. */
export type PostOutcome = { readonly ok: boolean; readonly detail: string };

/** Posts `body` once; any 2xx is success. Never throws. */
export function postJson(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: { readonly timeoutMs: number; readonly allowPrivateNetworks: boolean },
): Promise<PostOutcome> {
  return new Promise((resolve) => {
    if (!options.allowPrivateNetworks && isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) {
      if (isInternalAddress(url.hostname)) {
        resolve({ ok: false, detail: 'internal address refused' });
        return;
      }
    }
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'guestmode-webhooks',
        },
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        // The answer's body is not needed; reading it lets the connection close cleanly.
        response.resume();
        response.on('end', () =>
          resolve({ ok: status >= 200 && status < 300, detail: `HTTP ${status}` }),
        );
        response.on('error', () => resolve({ ok: false, detail: `HTTP ${status}, body cut` }));
      },
    );
    request.on('error', (error: Error & { code?: string }) => {
      const detail =
        error instanceof BlockedAddressError
          ? 'internal address refused'
          : error.name === 'AbortError' || error.name === 'TimeoutError'
            ? 'timed out'
            : (error.code ?? error.name);
      resolve({ ok: false, detail });
    });
    request.end(body);
  });
}
