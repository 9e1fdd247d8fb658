// Re-signs profile tokens with shifted clocks, to test the worker's handling of tokens it cannot
// otherwise be made to see (expired ones, ones from the future) without waiting 90 days.
//
// This mirrors the token layout of crates/engine/src/token.rs: base64url (no padding) of
//   [format u8][key tag u8][shape fingerprint u32 LE][visitor id: length u8, then its bytes]
//   [varint last_seen][rest of profile][HMAC-SHA256]
// with the HMAC over the site block ("intent-edge profile token/2\0", the site's length (u8) and
// the site, zero-filled to a multiple of 64 bytes) and the payload. Every other time in the profile is stored relative to last_seen, so moving last_seen
// moves the whole history. If the engine changes its layout, these helpers fail loudly, and
// tests/worker/api.test.mjs checks them against the engine itself (`intentctl token`).

import { createHash, createHmac } from 'node:crypto';

const DOMAIN = Buffer.from('intent-edge profile token/2\0', 'latin1');
/** The format the worker issues (crates/engine/src/token.rs, `FORMAT`). */
const FORMAT = 3;
const HEADER_LEN = 6;
/** How many random bytes a visitor id holds. */
const ID_LEN = 12;
const MAC_LEN = 32;

function readVarint(buf, offset) {
  let value = 0n;
  let shift = 0n;
  let i = offset;
  for (;;) {
    const b = buf[i++];
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return { value, end: i };
}

function writeVarint(value) {
  const out = [];
  let v = BigInt(value);
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function keyring(spec) {
  return spec.split(',').map((e) => e.trim()).filter(Boolean).map((entry) => {
    const i = entry.indexOf(':');
    const label = entry.slice(0, i);
    return { tag: createHash('sha256').update(label).digest()[0], secret: entry.slice(i + 1) };
  });
}

function sign(secret, site, payload) {
  const id = Buffer.from(site);
  if (id.length > 99) throw new Error('site ids this long are hashed into the site block: not needed here');
  const head = Buffer.concat([DOMAIN, Buffer.from([id.length]), id]);
  const block = Buffer.concat([head, Buffer.alloc(Math.ceil(head.length / 64) * 64 - head.length)]);
  return createHmac('sha256', secret).update(block).update(payload).digest();
}

/**
 * Returns `token` with its whole history moved by `shiftSecs` (negative: into the past),
 * re-signed with the first key of `keysSpec`, or with `secret`/`tag` when given (a key the
 * worker does not hold).
 */
export function reissue(token, { keysSpec, site = 'demo', shiftSecs = 0, secret, tag }) {
  const bytes = Buffer.from(token, 'base64url');
  const payload = bytes.subarray(0, bytes.length - MAC_LEN);
  if (payload[0] !== FORMAT) throw new Error(`unknown token format ${payload[0]}: update tests/worker/token.mjs`);
  const key = keyring(keysSpec)[0];
  if (payload[1] !== key.tag) throw new Error('the token was not signed by the first dev key');
  const idEnd = HEADER_LEN + 1 + payload[HEADER_LEN];
  const { value: lastSeen, end } = readVarint(payload, idEnd);
  const header = Buffer.from(payload.subarray(0, idEnd));
  if (tag === 'other') header[1] = key.tag ^ 0xff;
  const moved = Buffer.concat([
    header,
    writeVarint(lastSeen + BigInt(shiftSecs)),
    payload.subarray(end),
  ]);
  const mac = sign(secret ?? key.secret, site, moved);
  return Buffer.concat([moved, mac]).toString('base64url');
}

/** Flips one bit in the middle of the token's payload, keeping its signature. */
export function tamper(token) {
  const bytes = Buffer.from(token, 'base64url');
  const i = Math.floor((bytes.length - MAC_LEN) / 2) + 2;
  bytes[i] ^= 0x01;
  return bytes.toString('base64url');
}

/**
 * Decodes every field of a token, by the layout in crates/engine/src/token.rs, for rules with
 * no `engaged` condition, no UTM or referrer test and no score (the default rules): a visit is
 * then only its start, and which series a hit list belongs to is given by its position in the
 * rules, so the lists are read until the payload ends, and whatever the payload holds must be
 * consumed exactly by these fields. Throws if it is not.
 */
export function decodeToken(token) {
  const bytes = Buffer.from(token, 'base64url');
  const payload = bytes.subarray(0, bytes.length - MAC_LEN);
  let pos = 0;
  const byte = () => {
    if (pos >= payload.length) throw new Error('the token ends inside a field');
    return payload[pos++];
  };
  const varint = () => {
    const { value, end } = readVarint(payload, pos);
    if (end > payload.length) throw new Error('the token ends inside a varint');
    pos = end;
    return Number(value);
  };
  const format = byte();
  if (format !== FORMAT) throw new Error(`unknown token format ${format}: update tests/worker/token.mjs`);
  const keyTag = byte();
  const fingerprint = payload.readUInt32LE(pos);
  pos += 4;
  const idLen = byte();
  if (idLen !== 0 && idLen !== ID_LEN) throw new Error(`a visitor id of ${idLen} bytes`);
  const visitor = idLen ? Buffer.from(payload.subarray(pos, pos + idLen)).toString('base64url') : null;
  pos += idLen;
  const lastSeen = varint();
  const visitsTotal = varint();
  const visits = Array.from({ length: byte() }, () => ({ age: varint() }));
  const series = [];
  while (pos < payload.length) series.push(Array.from({ length: byte() }, () => varint()));
  return { format, keyTag, fingerprint, visitor, lastSeen, visitsTotal, visits, series, payload, mac: bytes.subarray(payload.length) };
}
