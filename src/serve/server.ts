/**
 * `fintune serve`: a local dashboard over a runs folder (fastify). Pages are server-rendered HTML with a little
 * script; charts are uPlot, served from node_modules so everything works without a network. Live curves follow
 * metrics.jsonl through server-sent events while training runs in its own process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { readReviews, readAll, validateReview, writeReviews, REVIEW_SCHEMA, type ReviewRecord } from '../eval/schema.js';
import { allowedHosts, hostAllowed, mutationAllowed, newToken, safeResolve, validRunId } from './security.js';
import { listRuns, readJsonlSafe, readJsonSafe, readMetrics, runInfo } from './runs.js';
import { comparePage, homePage, runPage, reviewPage, tryPage } from './pages.js';

export interface ServeOptions {
  runsDir: string;
  host?: string;
  port?: number;
  /** Fixed token (tests); default random per start. */
  token?: string;
  /** Generate text from a run's model (the prompt box). */
  generate?: (runDir: string, prompt: string, maxNewTokens: number) => Promise<string>;
  /** Forecast the next `horizon` values after `closes` with a run's model (MetaTrader endpoint). */
  forecast?: (runDir: string, closes: number[], horizon: number) => Promise<number[]>;
  /** Poll interval for live metrics (ms). */
  pollMs?: number;
}

export interface Dashboard {
  app: FastifyInstance;
  url: string;
  token: string;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startDashboard(opts: ServeOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? newToken();
  const runsDir = path.resolve(opts.runsDir);
  fs.mkdirSync(runsDir, { recursive: true });
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  let allowed = allowedHosts(host, opts.port ?? 0);

  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(req.headers.host, allowed)) {
      return reply.code(421).type('text/plain').send(`unexpected Host header ${req.headers.host ?? '(none)'}`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const check = mutationAllowed(req.headers, allowed, token);
      if (!check.ok) return reply.code(403).type('text/plain').send(check.why);
    }
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
  });

  const runDir = (id: string): string | null => {
    if (!validRunId(id)) return null;
    const d = safeResolve(runsDir, id);
    return d && fs.statSync(d).isDirectory() ? d : null;
  };
  const needRun = (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): string | null => {
    const d = runDir(req.params.id);
    if (!d) void reply.code(404).send({ error: `no run "${req.params.id}"` });
    return d;
  };

  // ---- pages --------------------------------------------------------------------------------------------------
  const html = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);
  app.get('/', async (_req, reply) => html(reply, homePage(token)));
  app.get<{ Params: { id: string } }>('/run/:id', async (req, reply) => {
    if (!needRun(req, reply)) return;
    return html(reply, runPage(token, req.params.id));
  });
  app.get('/compare', async (_req, reply) => html(reply, comparePage(token)));
  app.get<{ Params: { id: string } }>('/review/:id', async (req, reply) => {
    if (!needRun(req, reply)) return;
    return html(reply, reviewPage(token, req.params.id));
  });
  app.get<{ Params: { id: string } }>('/try/:id', async (req, reply) => {
    if (!needRun(req, reply)) return;
    return html(reply, tryPage(token, req.params.id));
  });
  app.get('/static/uplot.js', async (_req, reply) =>
    reply.type('application/javascript').send(fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'))),
  );
  app.get('/static/uplot.css', async (_req, reply) =>
    reply.type('text/css').send(fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'))),
  );

  // ---- files inside the runs folder only (reports, plots) ------------------------------------------------------
  app.get<{ Params: { '*': string } }>('/files/*', async (req, reply) => {
    const rel = decodeURIComponent(req.params['*'] ?? '');
    const file = safeResolve(runsDir, rel);
    if (!file || !fs.statSync(file).isFile()) return reply.code(404).type('text/plain').send('not found');
    const ext = path.extname(file).toLowerCase();
    const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json', '.jsonl': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8', '.csv': 'text/csv' };
    return reply.type(types[ext] ?? 'application/octet-stream').send(fs.readFileSync(file));
  });

  // ---- data -----------------------------------------------------------------------------------------------------
  app.get('/api/runs', async () => ({ runs: listRuns(runsDir) }));
  app.get<{ Params: { id: string } }>('/api/runs/:id', async (req, reply) => {
    if (!needRun(req, reply)) return;
    return { run: runInfo(runsDir, req.params.id), config: readJsonSafe(path.join(runsDir, req.params.id, 'config.json')) };
  });
  app.get<{ Params: { id: string } }>('/api/runs/:id/metrics', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    return readMetrics(path.join(d, 'metrics.jsonl'));
  });
  app.get<{ Params: { id: string }; Querystring: { from?: string } }>('/api/runs/:id/events', (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    let from = Math.max(0, Number(req.query.from) || 0);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    const tick = (): void => {
      const r = readMetrics(path.join(d, 'metrics.jsonl'), from);
      if (r.nextByte < from) from = 0;
      if (r.rows.length) res.write(`data: ${JSON.stringify(r.rows)}\n\n`);
      from = r.nextByte;
    };
    const timer = setInterval(tick, opts.pollMs ?? 500);
    tick();
    req.raw.on('close', () => clearInterval(timer));
  });
  app.get<{ Params: { id: string } }>('/api/runs/:id/forecasts', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    return readJsonlSafe(path.join(d, 'forecasts.jsonl'), 2000);
  });
  app.get<{ Params: { id: string } }>('/api/runs/:id/backtest', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    return { backtest: readJsonSafe(path.join(d, 'backtest.json')) };
  });
  app.get<{ Params: { id: string } }>('/api/runs/:id/generations', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    const gens = readJsonlSafe(path.join(d, 'generations.jsonl'));
    const reviews = fs.existsSync(path.join(d, 'reviews.jsonl')) ? await readAll(readReviews(path.join(d, 'reviews.jsonl'))) : [];
    return { generations: gens.rows, skipped: gens.skipped, reviews };
  });

  // ---- state-changing -------------------------------------------------------------------------------------------
  app.post<{ Params: { id: string }; Body: unknown }>('/api/runs/:id/reviews', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    let review: ReviewRecord;
    try {
      review = validateReview({ schema: REVIEW_SCHEMA, time: new Date().toISOString(), reviewer: 'dashboard', corrected: null, ...body });
    } catch (e) {
      return reply.code(400).send({ error: (e as Error).message });
    }
    const file = path.join(d, 'reviews.jsonl');
    const existing = fs.existsSync(file) ? await readAll(readReviews(file)) : [];
    // One review per generation: a new one replaces the old.
    const merged = [...existing.filter((r) => r.generation_id !== review.generation_id), review];
    writeReviews(file, merged);
    return { ok: true, review, count: merged.length };
  });
  app.post<{ Params: { id: string }; Body: { prompt?: unknown; maxNewTokens?: unknown } }>('/api/runs/:id/generate', async (req, reply) => {
    const d = needRun(req, reply);
    if (!d) return;
    if (!opts.generate) return reply.code(501).send({ error: 'this server has no text generator configured' });
    const prompt = req.body?.prompt;
    const n = Number(req.body?.maxNewTokens ?? 64);
    if (typeof prompt !== 'string' || prompt.length === 0) return reply.code(400).send({ error: 'prompt must be a non-empty string' });
    if (!Number.isInteger(n) || n < 1 || n > 1024) return reply.code(400).send({ error: 'maxNewTokens must be an integer in 1..1024' });
    try {
      return { output: await opts.generate(d, prompt, n) };
    } catch (e) {
      return reply.code(422).send({ error: (e as Error).message });
    }
  });
  app.post<{ Body: { run?: unknown; closes?: unknown; horizon?: unknown } }>('/api/forecast', async (req, reply) => {
    const b = req.body ?? {};
    if (typeof b.run !== 'string') return reply.code(400).send({ error: 'run must name a run folder' });
    const d = runDir(b.run);
    if (!d) return reply.code(404).send({ error: `no run "${b.run}"` });
    if (!Array.isArray(b.closes) || b.closes.length < 2 || !b.closes.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return reply.code(400).send({ error: 'closes must be an array of at least 2 finite numbers, oldest first' });
    }
    const horizon = Number(b.horizon ?? 1);
    if (!Number.isInteger(horizon) || horizon < 1 || horizon > 256) return reply.code(400).send({ error: 'horizon must be an integer in 1..256' });
    if (!opts.forecast) return reply.code(501).send({ error: 'this server has no forecaster configured' });
    try {
      return { forecast: await opts.forecast(d, b.closes as number[], horizon) };
    } catch (e) {
      return reply.code(422).send({ error: (e as Error).message });
    }
  });

  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  allowed = allowedHosts(host, port);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${shownHost}:${port}`, token, close: () => app.close() };
}
