import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createClientAddressResolver,
  createRateLimitKeyResolver,
  parseTrustedProxies,
  rateLimitKey,
} from '@guestmode/core';

describe('client address and rate-limit key', () => {
  it('reads hop counts and address lists, and refuses to trust everyone', () => {
    assert.equal(parseTrustedProxies('false'), 0);
    assert.equal(parseTrustedProxies(''), 0);
    assert.equal(parseTrustedProxies('2'), 2);
    assert.deepEqual(parseTrustedProxies('10.0.0.0/8, 127.0.0.1,fd00::/8'), [
      '10.0.0.0/8',
      '127.0.0.1',
      'fd00::/8',
    ]);
    assert.throws(
      () => parseTrustedProxies('true', 'GUESTMODE_TRUST_PROXY'),
      /GUESTMODE_TRUST_PROXY: "true"/,
    );
    assert.throws(() => parseTrustedProxies('11'), /hop count/);
    for (const bad of ['10.0.0.0/33', 'proxy.local', '10.0.0.1/8/2', '::1/129']) {
      assert.throws(() => parseTrustedProxies(bad), TypeError, bad);
    }
  });

  it('uses the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const clientOf = createClientAddressResolver(0);
    assert.equal(clientOf('198.51.100.4', '1.2.3.4'), '198.51.100.4');
    assert.equal(clientOf('::ffff:198.51.100.4', undefined), '198.51.100.4');
  });

  it('walks back only as many hops as are trusted, so a spoofed leftmost entry is ignored', () => {
    const one = createClientAddressResolver(1);
    // The client sent "1.1.1.1"; the one proxy appended the address it saw.
    for (let i = 0; i < 6; i++) {
      assert.equal(one('10.0.0.2', `1.1.1.${i}, 203.0.113.7`), '203.0.113.7');
    }
    assert.equal(one('10.0.0.2', undefined), '10.0.0.2');
    assert.equal(one('10.0.0.2', ['9.9.9.9', '203.0.113.8']), '203.0.113.8');
    const two = createClientAddressResolver(2);
    assert.equal(two('10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.9'), '203.0.113.7');
    // Garbage stops the walk at the last address a trusted proxy vouched for.
    assert.equal(two('10.0.0.2', 'junk, 10.0.0.9'), '10.0.0.9');
  });

  it('trusts listed proxies only, skipping through a chain of them', () => {
    const clientOf = createClientAddressResolver(['10.0.0.0/8', '127.0.0.1']);
    assert.equal(clientOf('127.0.0.1', '6.6.6.6, 203.0.113.7, 10.1.2.3'), '203.0.113.7');
    assert.equal(clientOf('198.51.100.1', '203.0.113.7'), '198.51.100.1', 'peer not a proxy');
  });

  it('keys IPv6 clients by their /64 and IPv4 clients by their address', () => {
    assert.equal(rateLimitKey('203.0.113.7'), '203.0.113.7');
    assert.equal(rateLimitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(rateLimitKey('2001:0DB8:0001:0002::1'), '2001:db8:1:2::/64');
    assert.equal(rateLimitKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(rateLimitKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(rateLimitKey('::ffff:203.0.113.7'), '203.0.113.7');
    const keyOf = createRateLimitKeyResolver(1);
    assert.equal(
      keyOf('::1', '2001:db8:1:2::1'),
      keyOf('::1', '2001:db8:1:2:ffff:ffff:ffff:ffff'),
      'one /64, one budget',
    );
  });
});
