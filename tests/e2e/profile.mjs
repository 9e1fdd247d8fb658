// Reads the visit count out of a profile token, by the layout documented in
// crates/engine/src/token.rs: base64url of
//   [format u8][key tag u8][rules fingerprint u32 LE][varint last activity][varint visits seen]…
// followed by the HMAC. The token is opaque to the browser; only the tests look inside, to see
// what the edge recorded without asking it to record anything more.

const HEADER_LEN = 6;

function varint(bytes, offset) {
  let value = 0n;
  let shift = 0n;
  let i = offset;
  for (;;) {
    if (i >= bytes.length) throw new Error('truncated varint: update tests/e2e/profile.mjs');
    const b = bytes[i++];
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return { value, end: i };
}

/** The profile's last activity (seconds since the epoch) and the visits it has seen. */
export function readProfile(token) {
  const bytes = Buffer.from(token, 'base64url');
  if (bytes[0] !== 1) throw new Error(`unknown token format ${bytes[0]}: update tests/e2e/profile.mjs`);
  const lastSeen = varint(bytes, HEADER_LEN);
  const visits = varint(bytes, lastSeen.end);
  return { lastSeen: Number(lastSeen.value), visits: Number(visits.value) };
}
