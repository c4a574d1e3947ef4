// The dashboard in a real browser: data from a simulated few minutes of traffic, a screenshot in
// test-results/dashboard.png, charts rendered, no console errors.
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchBrowser, randomId } from '@guestmode/testkit';
import { ADMIN_TOKEN, adminHeaders, assert, type Service, startService } from './harness.js';

const SCREENSHOT = fileURLToPath(new URL('../test-results/dashboard.png', import.meta.url));

describe('dashboard', () => {
  let s: Service;
  before(async () => {
    // A 1-minute guest lifetime so that some guests expire within the simulated minutes.
    s = await startService({
      kind: 'sqlite',
      guestTtl: '1m',
      config: { rateLimit: false, statsIntervalMs: 10_000 },
    });
    // Twelve 10-second steps: guests arrive, some sign in and are merged, the rest expire.
    for (let step = 0; step < 12; step++) {
      s.clock += 10_000;
      const tokens: string[] = [];
      for (let i = 0; i < 3 + (step % 4); i++) {
        const res = await s.request<{ token: string }>('POST', '/v1/guests', {
          json: { attributes: { cart: [{ id: `book-${i}`, quantity: 1 }] } },
        });
        tokens.push(res.body.token);
      }
      for (const token of tokens.slice(0, 1 + (step % 3))) {
        const access = await s.issuer.accessToken({ sub: `user_${randomId(4)}` });
        const res = await s.request('POST', '/v1/merge', {
          headers: { authorization: `Bearer ${access}`, 'guest-token': token },
        });
        assert.equal(res.status, 200);
      }
      await s.guestmode.purgeExpired();
      await s.app.metrics.sample();
    }
  });
  after(() => s.close());

  it('renders the funnel and both charts in Chromium', async () => {
    const stats = await s.request<{ totals: Record<string, number>; samples: unknown[] }>(
      'GET',
      '/v1/stats',
      { headers: adminHeaders },
    );
    assert.ok(stats.body.samples.length >= 12);
    assert.ok(stats.body.totals.expired! > 0, 'some guests expired');
    assert.ok(stats.body.totals.merged! > 0, 'some guests converted');

    const browser = await launchBrowser();
    try {
      const page = await (
        await browser.newContext({
          viewport: { width: 1200, height: 820 },
          // The browser's own Basic prompt, answered with the admin token as the password.
          httpCredentials: { username: 'admin', password: ADMIN_TOKEN },
        })
      ).newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning')
          problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      const response = await page.goto(`${s.base}/`);
      assert.equal(response?.status(), 200);
      await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
      assert.equal(await page.textContent('#kpi-created'), String(stats.body.totals.created));
      assert.equal(await page.locator('#funnel rect.bar').count(), 4);
      assert.equal(await page.locator('#chart-guests path.series').count(), 4);
      assert.equal(await page.locator('#chart-latency path.series').count(), 2);
      assert.ok(
        (await page.locator('#chart-latency rect.bar').count()) >= 10,
        'merges per interval',
      );
      mkdirSync(fileURLToPath(new URL('../test-results/', import.meta.url)), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.deepEqual(problems, [], 'no console errors or warnings');
    } finally {
      await browser.close();
    }
  });
});
