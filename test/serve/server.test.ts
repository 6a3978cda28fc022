import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../src/serve/server.js';
import { makeRun } from '../helpers/runs.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-serve-'));
const runs = path.join(root, 'runs');
let d: Dashboard;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(d.url + url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  makeRun(runs, 'alpha', 6, { generations: 2, forecasts: true });
  makeRun(runs, 'beta', 3);
  fs.writeFileSync(path.join(root, 'secret.txt'), 'not for the dashboard');
  fs.symlinkSync(path.join(root, 'secret.txt'), path.join(runs, 'alpha', 'link.txt'));
  d = await startDashboard({
    runsDir: runs,
    pollMs: 50,
    forecast: async (_dir, closes, h) => Array(h).fill(closes[closes.length - 1]),
  });
});
afterAll(async () => {
  await d.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('dashboard API', () => {
  it('lists runs with status and summary numbers', async () => {
    const { runs: list } = await json(fetch(d.url + '/api/runs'));
    const alpha = list.find((r: { id: string }) => r.id === 'alpha');
    expect(alpha.steps).toBe(6);
    expect(alpha.method).toBe('lora');
    expect(alpha.has.generations).toBe(true);
    expect(alpha.lastLoss).toBeCloseTo(2.5, 10);
  });

  it('a half-written or corrupt metrics line does not break the page or the API', async () => {
    const f = path.join(runs, 'beta', 'metrics.jsonl');
    fs.appendFileSync(f, '{not json}\n{"step": 4, "loss": 2.6');
    const m = await json(fetch(d.url + '/api/runs/beta/metrics'));
    expect(m.rows.map((r: { step: number }) => r.step)).toEqual([1, 2, 3]);
    expect(m.skipped).toBe(1);
    expect((await fetch(d.url + '/run/beta')).status).toBe(200);
    fs.appendFileSync(f, ', "lr": 0.001}\n');
    const m2 = await json(fetch(d.url + '/api/runs/beta/metrics'));
    expect(m2.rows.map((r: { step: number }) => r.step)).toEqual([1, 2, 3, 4]);
  });

  it('streams new metrics rows as server-sent events', async () => {
    const m = await json(fetch(d.url + '/api/runs/alpha/metrics'));
    const ctrl = new AbortController();
    const res = await fetch(`${d.url}/api/runs/alpha/events?from=${m.nextByte}`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    fs.appendFileSync(path.join(runs, 'alpha', 'metrics.jsonl'), JSON.stringify({ step: 7, loss: 2.4 }) + '\n');
    let text = '';
    while (!text.includes('"step":7')) text += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    expect(text).toMatch(/data: \[\{"step":7,"loss":2\.4\}\]/);
  });

  it('serves files only from inside the runs folder', async () => {
    expect((await fetch(d.url + '/files/alpha/metrics.jsonl')).status).toBe(200);
    for (const p of ['/files/../secret.txt', '/files/%2e%2e/secret.txt', '/files/alpha/%2e%2e/%2e%2e/secret.txt', '/files/alpha/link.txt', '/files/%2fetc%2fpasswd']) {
      const r = await fetch(d.url + p);
      expect(r.status, p).toBe(404);
      expect(await r.text()).not.toContain('not for the dashboard');
    }
    expect((await fetch(d.url + '/api/runs/..%2F..%2Fetc/metrics')).status).toBe(404);
  });

  it('refuses forged cross-origin and tokenless writes, and foreign Host headers', async () => {
    const review = { generation_id: 'g0', rating: 4, decision: 'accept' };
    const forged = await post('/api/runs/alpha/reviews', review, { origin: 'http://evil.example', 'x-fintune-token': d.token });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toMatch(/cross-origin/);
    expect((await post('/api/runs/alpha/reviews', review)).status).toBe(403);
    expect((await post('/api/runs/alpha/reviews', review, { 'x-fintune-token': 'wrong'.padEnd(d.token.length, 'x') })).status).toBe(403);
    const rebinding = await d.app.inject({ method: 'GET', url: '/api/runs', headers: { host: 'attacker.example:80' } });
    expect(rebinding.statusCode).toBe(421);
    expect(fs.existsSync(path.join(runs, 'alpha', 'reviews.jsonl'))).toBe(false);
  });

  it('saves a review (same origin + token), replaces it on a second save, and validates input', async () => {
    const h = { origin: d.url, 'x-fintune-token': d.token };
    expect((await post('/api/runs/alpha/reviews', { generation_id: 'g0', rating: 4, decision: 'accept' }, h)).status).toBe(200);
    const r2 = await post('/api/runs/alpha/reviews', { generation_id: 'g0', rating: 2, corrected: 'better text', decision: 'reject' }, h);
    expect((await json(r2)).count).toBe(1);
    const g = await json(fetch(d.url + '/api/runs/alpha/generations'));
    expect(g.reviews).toHaveLength(1);
    expect(g.reviews[0]).toMatchObject({ generation_id: 'g0', rating: 2, corrected: 'better text', decision: 'reject' });
    expect((await post('/api/runs/alpha/reviews', { generation_id: 'g1', rating: 9, decision: 'accept' }, h)).status).toBe(400);
  });

  it('forecast endpoint for MetaTrader: validates and answers', async () => {
    const h = { 'x-fintune-token': d.token };
    const ok = await post('/api/forecast', { run: 'alpha', closes: [1.1, 1.2], horizon: 3 }, h);
    expect(await json(ok)).toEqual({ forecast: [1.2, 1.2, 1.2] });
    expect((await post('/api/forecast', { run: 'alpha', closes: ['x'] }, h)).status).toBe(400);
    expect((await post('/api/forecast', { run: 'nope', closes: [1, 2] }, h)).status).toBe(404);
    expect((await post('/api/forecast', { run: '../alpha', closes: [1, 2] }, h)).status).toBe(404);
  });

  it('pages escape run content (no markup from generations is interpreted)', async () => {
    const page = await (await fetch(d.url + '/review/alpha')).text();
    expect(page).not.toContain('<b>bold</b>');
    expect(page).toContain('name="fintune-token"');
  });
});
