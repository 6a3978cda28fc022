/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core): the page loads, a loss curve
 * draws and grows as training appends metrics, a review is saved and survives a reload. Screenshots go to
 * test-output/. .ci/run installs chromium; without it this test fails (it is never silently skipped in CI).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/serve/server.js';
import { makeRun } from '../helpers/runs.js';
import { ROOT } from '../helpers/paths.js';

const CHROMIUM = process.env.FINTUNE_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = fs.existsSync(CHROMIUM);
const mustRun = process.env.CI === 'true' || process.env.FINTUNE_REQUIRE_BROWSER === '1';
const shots = path.join(ROOT, 'test-output', 'dashboard');

describe.skipIf(!haveBrowser && !mustRun)('dashboard in Chromium', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-browser-'));
  const runs = path.join(root, 'runs');
  let d: Dashboard;
  let browser: Browser;

  beforeAll(async () => {
    if (!haveBrowser) throw new Error(`chromium not found at ${CHROMIUM}: .ci/run installs Debian's chromium`);
    makeRun(runs, 'live', 4, { generations: 2, forecasts: true });
    d = await startDashboard({ runsDir: runs, pollMs: 100 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    fs.mkdirSync(shots, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await d?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('runs list, a live loss curve that updates, and a review that survives a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url + '/');
    await page.waitForSelector('tr[data-run="live"]');
    await page.screenshot({ path: path.join(shots, 'runs.png') });

    await page.goto(d.url + '/run/live');
    const points = () => page.getAttribute('[data-chart="Loss"]', 'data-points').then(Number);
    await page.waitForFunction(() => Number(document.querySelector('[data-chart="Loss"]')?.getAttribute('data-points')) === 4);
    expect(await page.locator('[data-chart="Loss"] canvas').count()).toBe(1);
    // training appends two steps: the curve grows without a reload
    fs.appendFileSync(path.join(runs, 'live', 'metrics.jsonl'), JSON.stringify({ step: 5, loss: 2.5 }) + '\n' + JSON.stringify({ step: 6, loss: 2.4, valLoss: 2.6 }) + '\n');
    await page.waitForFunction(() => Number(document.querySelector('[data-chart="Loss"]')?.getAttribute('data-points')) === 6, undefined, { timeout: 10_000 });
    expect(await points()).toBe(6);
    await page.waitForSelector('text=Predicted vs true');
    await page.screenshot({ path: path.join(shots, 'run.png'), fullPage: true });

    await page.goto(d.url + '/review/live');
    const card = page.locator('[data-generation="g1"]');
    await card.locator('textarea').fill('Corrected analysis.');
    await card.locator('select').selectOption('5');
    await card.locator('[data-action="accept"]').click();
    await card.locator('text=saved: accept').waitFor();
    await page.reload();
    const again = page.locator('[data-generation="g1"]');
    await again.locator('text=saved: accept').waitFor();
    expect(await again.locator('textarea').inputValue()).toBe('Corrected analysis.');
    expect(await again.locator('select').inputValue()).toBe('5');
    await page.screenshot({ path: path.join(shots, 'review.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});
