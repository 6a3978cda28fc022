/**
 * The dashboard's guards. It binds to 127.0.0.1 by default, but a page on any other site can still make the
 * browser send requests to it, and DNS rebinding can make such a page look same-origin. So:
 *  - every request must carry a Host header naming this server (rebinding sends the attacker's host name);
 *  - requests that change state also need an Origin (when the browser sends one) equal to this server, and the
 *    per-server token (embedded in the pages this server serves, unknown to other sites);
 *  - files are served only from inside the runs folder, after resolving `..` and symbolic links.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function newToken(): string {
  return crypto.randomBytes(24).toString('hex');
}

/** Host header values this server answers to. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set([host, '127.0.0.1', 'localhost', '[::1]']);
  return new Set([...names].map((h) => `${h}:${port}`));
}

export function hostAllowed(hostHeader: string | undefined, allowed: Set<string>): boolean {
  return !!hostHeader && allowed.has(hostHeader.toLowerCase());
}

/** For state-changing requests: the Origin (if sent) must be this server, and the token must match. */
export function mutationAllowed(
  headers: Record<string, string | string[] | undefined>,
  allowed: Set<string>,
  token: string,
): { ok: true } | { ok: false; why: string } {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    let hostPart: string;
    try {
      hostPart = new URL(origin).host.toLowerCase();
    } catch {
      return { ok: false, why: 'malformed Origin header' };
    }
    if (!allowed.has(hostPart)) return { ok: false, why: `cross-origin request from ${origin} refused` };
  } else if (origin === 'null') {
    return { ok: false, why: 'opaque origin refused' };
  }
  const sent = headers['x-fintune-token'];
  if (typeof sent !== 'string' || sent.length !== token.length || !crypto.timingSafeEqual(Buffer.from(sent), Buffer.from(token))) {
    return { ok: false, why: 'missing or wrong X-Fintune-Token' };
  }
  return { ok: true };
}

/**
 * The real path of `rel` inside `root`, or null when it escapes the root (through `..`, an absolute path, or a
 * symbolic link) or does not exist.
 */
export function safeResolve(root: string, rel: string): string | null {
  if (rel.includes('\0')) return null;
  const realRoot = fs.realpathSync(root);
  const candidate = path.resolve(realRoot, '.' + path.sep + rel);
  if (!isInside(realRoot, candidate)) return null;
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    return null;
  }
  return isInside(realRoot, real) ? real : null;
}

function isInside(root: string, p: string): boolean {
  const r = path.relative(root, p);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/** A run id is one path segment of ordinary characters (never `..`, slashes or hidden names). */
export function validRunId(id: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/.test(id) && !id.includes('..');
}
