// What the worker sends out (webhooks, Slack, CRMs, Segment), received on 127.0.0.1 (no
// network), and the checks the suites make of it: a recording receiver, Standard Webhooks
// verification written from the spec, the dev-only secrets the worker signs with, and the admin
// API read as JSON. Shared by the trigger, audit and console suites.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import { ADMIN_TOKEN, readDevVar } from './harness.mjs';

/** A secret of .dev.vars, as the worker reads it. */
export const devSecret = readDevVar;

/**
 * A receiver on 127.0.0.1 that records every request (`{path, method, headers, body,
 * answered}`) and answers the status `answer(path, n)` gives for the n-th request (from 1) to
 * `path` (or `[status, headers]`): 200 unless told otherwise. `url(path)` is where to send.
 */
export async function receiver(answer = () => 200) {
  const requests = [];
  const counts = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const n = (counts.get(req.url) ?? 0) + 1;
      counts.set(req.url, n);
      const given = answer(req.url, n);
      const [answered, headers] = Array.isArray(given) ? given : [given, {}];
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url, method: req.method, headers: req.headers, body, answered });
      res.writeHead(answered, headers);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    requests,
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

/**
 * Standard Webhooks verification, written from the spec: the key is the base64 after `whsec_`,
 * the signed content `${id}.${timestamp}.${body}`, the signature header a space-separated list
 * of `v1,<base64 HMAC-SHA256>`.
 */
export function verifyWebhook(secret, headers, body) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (!id || !ts || !sigs) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sigs.split(' ').some((s) => {
    const [version, sig] = s.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/** `GET base + path` with the admin token: `{status, text, json}` (json undefined if not JSON). */
export async function adminJson(base, path) {
  const r = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json };
}
