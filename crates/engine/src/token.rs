//! The signed profile token: the profile's compact binary form, HMAC-SHA256 signed, base64url.
//!
//! Layout (all integers unsigned LEB128 varints unless noted):
//!
//! | field | bytes |
//! | --- | --- |
//! | format version (`3`) | 1 |
//! | key tag (which key signed it) | 1 |
//! | fingerprint of the profile's shape ([`ProfileShape::fingerprint`]), u32 little-endian | 4 |
//! | visitor id: its length (`0`, or `12`), then its random bytes | 1 + 0 or 12 |
//! | last activity, seconds since the epoch | varint |
//! | visits seen | varint |
//! | kept visits: count (u8), then per visit: age at last activity; visible seconds and scroll (u8) when the shape keeps visits' engagement; tests bits << 1 \| landed when it has visit tests or filtered series (`visits` or `viewed` with a filter) | … |
//! | per tracked series of the shape: count (u8), then per hit: age at last activity, and for engaged page groups visible seconds and scroll (u8) | … |
//! | when the shape keeps a score: score (f32 little-endian), age of the score | 4 + varint |
//! | HMAC-SHA256 over the site block (a domain label and the site id, filled to whole SHA-256 blocks, see `site_block`) and all of the above | 32 |
//!
//! Which fields a visit and a hit carry, and which series there are, is the shape's: a token is
//! read with the shape its fingerprint names, and carried over to the active rules' shape when
//! that is another one (`open.rs`).
//!
//! Nothing else is in it: no URL, referrer, title, IP address or user agent. The visitor id is
//! random bytes the caller supplied.
//!
//! The same payload without the key tag and the MAC is the *plain profile* the audience store
//! keeps ([`Profile::to_plain`]): format, fingerprint, visitor id and profile, base64url.
//!
//! Earlier formats are still read, so visitors keep their profiles across upgrades; every token
//! issued is format 3. Format 2 had no visitor id, and its fingerprint was the legacy one
//! (`shape/legacy.rs`). Format 1 had neither, carried every visit field whatever the rules read,
//! and its MAC began with a shorter label and the site id, not filled to a block.

use std::fmt;
use std::mem::MaybeUninit;

use base64_simd::{Out, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::limits::Limits;
use crate::profile::{Hit, Profile, VisitRec, VisitorId, MAX_SECONDS};
use crate::shape::ProfileShape;
use crate::time::Timestamp;

/// The format of the tokens this version issues.
pub(crate) const FORMAT: u8 = 3;
const MAC_LEN: usize = 32;
const HEADER_LEN: usize = 6;
/// The domain label at the start of every MAC of format 1.
const DOMAIN_V1: &[u8] = b"intent-edge profile token\0";
/// The domain label at the start of every MAC of format 2, in the site block (see
/// [`site_block`]).
const DOMAIN: &[u8] = b"intent-edge profile token/2\0";
/// Sites a keyring prepares at most ([`Keyring::for_sites`]).
const MAX_PREPARED_SITES: usize = 64;
/// Clock skew tolerated between edge locations before a token counts as from the future.
const SKEW_SECS: i64 = 300;
/// Most signing keys in a keyring: the current one and a few still in their grace period.
const MAX_KEYS: usize = 4;

type HmacSha256 = Hmac<Sha256>;

/// Why an incoming token was discarded and the visitor started fresh. Never an error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FreshReason {
    /// Not a token this service issues: bad base64, wrong length or layout.
    Malformed,
    /// Signed by a key this keyring does not hold (retired, or never ours).
    UnknownKey,
    /// The signature does not match: tampered with, or issued for another site.
    BadSignature,
    /// Made under rules whose profile shape these rules do not know (not theirs, and not one of
    /// the earlier shapes they carry profiles over from).
    OtherRules,
    /// The visitor's last activity is older than the rules' horizon.
    Expired,
    /// Claims activity in the future.
    FromTheFuture,
}

impl FreshReason {
    /// A short code for logs and response headers.
    pub fn code(self) -> &'static str {
        match self {
            FreshReason::Malformed => "malformed",
            FreshReason::UnknownKey => "unknown-key",
            FreshReason::BadSignature => "bad-signature",
            FreshReason::OtherRules => "other-rules",
            FreshReason::Expired => "expired",
            FreshReason::FromTheFuture => "from-the-future",
        }
    }
}

impl fmt::Display for FreshReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FreshReason::Malformed => "the token is malformed",
            FreshReason::UnknownKey => {
                "the token was signed by a key that is not (or no longer) accepted"
            }
            FreshReason::BadSignature => "the token's signature does not match",
            FreshReason::OtherRules => {
                "the token was made under rules whose profile shape is no longer known"
            }
            FreshReason::Expired => "the token is older than the rules' horizon",
            FreshReason::FromTheFuture => "the token claims activity in the future",
        })
    }
}

/// A keyring that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

#[derive(Clone)]
struct Key {
    tag: u8,
    /// HMAC-SHA256 keyed with the secret: its padded key blocks are hashed once, here.
    mac: HmacSha256,
    /// The same, past the site block of each prepared site ([`Keyring::for_sites`]).
    sites: Vec<(Box<str>, HmacSha256)>,
}

impl Key {
    /// The MAC state past `site`'s site block: where every format 2 MAC for `site` starts.
    fn after_site_block(&self, site: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        let (block, len) = site_block(site);
        mac.update(&block[..len]);
        mac
    }
}

/// Signing keys: the first signs, every key verifies. To rotate, put the new key first and keep
/// the old one after it for a grace period (as long as the rules' horizon to keep every visitor),
/// then remove it.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets, not even in debug output.
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Keyring {
    /// Reads `label:secret[,label:secret…]`, as stored in the worker's `PROFILE_KEYS` secret. Labels are
    /// 1 to 32 letters, digits, `-` or `_`; secrets at least 16 bytes.
    pub fn parse(spec: &str) -> Result<Keyring, KeyError> {
        let mut keys = Vec::new();
        for (i, entry) in spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (label, secret) = entry
                .split_once(':')
                .ok_or_else(|| KeyError(format!("key {}: expected `label:secret`", i + 1)))?;
            let label_ok = !label.is_empty()
                && label.len() <= 32
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !label_ok {
                return Err(KeyError(format!(
                    "key {}: the label must be 1 to 32 letters, digits, `-` or `_`",
                    i + 1
                )));
            }
            if secret.len() < 16 {
                return Err(KeyError(format!(
                    "key `{label}`: the secret is shorter than 16 bytes; use a long random string"
                )));
            }
            let tag = Sha256::digest(label.as_bytes())[0];
            if keys.iter().any(|k: &Key| k.tag == tag) {
                return Err(KeyError(format!(
                    "key `{label}`: its label collides with another key's; choose another label"
                )));
            }
            let mac = HmacSha256::new_from_slice(secret.as_bytes())
                .map_err(|_| KeyError(format!("key `{label}`: unusable secret")))?;
            keys.push(Key {
                tag,
                mac,
                sites: Vec::new(),
            });
        }
        if keys.is_empty() {
            return Err(KeyError(
                "no signing key: expected `label:secret`".to_owned(),
            ));
        }
        if keys.len() > MAX_KEYS {
            return Err(KeyError(format!(
                "{} keys; keep at most {MAX_KEYS}",
                keys.len()
            )));
        }
        Ok(Keyring { keys })
    }

    /// The keyring with the MAC state of each of `sites` (the worker's `SITES`) prepared for
    /// every key: a token's MAC starts with a block naming its site, hashed here once rather than
    /// on every call. Tokens of other sites are signed and verified all the same, hashing their
    /// site block each time. At most 64 sites are prepared.
    pub fn for_sites<'s>(mut self, sites: impl IntoIterator<Item = &'s str>) -> Keyring {
        let sites: Vec<&str> = sites.into_iter().take(MAX_PREPARED_SITES).collect();
        for key in &mut self.keys {
            key.sites = sites
                .iter()
                .map(|site| (Box::from(*site), key.after_site_block(site)))
                .collect();
        }
        self
    }

    /// The MAC of a token's payload for `site`, in token format `format`.
    ///
    /// Format 2 (what is issued): over the site block ([`site_block`]: the domain label, the
    /// site id with its length, zero-filled to whole SHA-256 blocks), then the payload. Format
    /// 1: over the format 1 domain label, the site id with its length, and the payload.
    fn signature(key: &Key, site: &str, payload: &[u8], format: u8) -> [u8; MAC_LEN] {
        let mut mac = if format == 1 {
            let mut mac = key.mac.clone();
            mac.update(DOMAIN_V1);
            mac.update(&[site.len().min(255) as u8]);
            mac.update(site.as_bytes());
            mac
        } else if let Some((_, prepared)) = key.sites.iter().find(|(s, _)| **s == *site) {
            prepared.clone()
        } else {
            key.after_site_block(site)
        };
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    /// Signs and encodes `profile`, made under `shape` (the rules, or their
    /// [`ProfileShape`]), for `site`.
    pub fn encode<S: AsRef<ProfileShape> + ?Sized>(
        &self,
        shape: &S,
        site: &str,
        profile: &Profile,
    ) -> String {
        let shape = shape.as_ref();
        // Written on the stack: most tokens are far smaller than this. A larger one is written
        // again on the heap, at the size the first attempt found.
        let mut stack = [0u8; 256];
        match self.encode_into(&mut stack, shape, site, profile) {
            Ok(token) => token,
            Err(needed) => self
                .encode_into(&mut vec![0; needed], shape, site, profile)
                .unwrap_or_default(),
        }
    }

    /// Writes the signed token into `buf` and encodes it, or says how many bytes it needs when
    /// `buf` is too small.
    fn encode_into(
        &self,
        buf: &mut [u8],
        shape: &ProfileShape,
        site: &str,
        profile: &Profile,
    ) -> Result<String, usize> {
        // The keyring always holds at least one key (`parse` refuses an empty one).
        let Some(key) = self.keys.first() else {
            return Ok(String::new());
        };
        let mut w = Writer { buf, len: 0 };
        w.push(FORMAT);
        w.push(key.tag);
        w.extend(&shape.fingerprint().to_le_bytes());
        write_profile(&mut w, shape, profile);
        let payload = w.written().ok_or(w.len + MAC_LEN)?;
        let mac = Self::signature(key, site, payload, FORMAT);
        w.extend(&mac);
        let token = w.written().ok_or(w.len)?;
        Ok(URL_SAFE_NO_PAD.encode_to_string(token))
    }

    /// Verifies `token` for `site` and hands what it holds to `read`: the token's format, the
    /// fingerprint of the shape it was made under, and the profile's bytes. The token is
    /// decoded on the stack, which is why its bytes are lent to a closure rather than returned.
    #[inline(always)]
    pub(crate) fn verified<T>(
        &self,
        site: &str,
        token: &str,
        read: impl FnOnce(Verified<'_>) -> Result<T, FreshReason>,
    ) -> Result<T, FreshReason> {
        if token.is_empty() || token.len() > 2 * Limits::TOKEN_BYTES {
            return Err(FreshReason::Malformed);
        }
        // Decoded on the stack: a token of at most `2 * TOKEN_BYTES` characters decodes to at
        // most three quarters of that. The buffer is not zeroed first (1.5 KiB on every call):
        // `decode` writes what it returns.
        let mut decoded =
            [const { MaybeUninit::<u8>::uninit() }; 2 * Limits::TOKEN_BYTES * 3 / 4 + 3];
        // `decode` needs room for all of it (it would panic otherwise): the length check above
        // keeps it within the buffer.
        let bytes: &[u8] = URL_SAFE_NO_PAD
            .decode(
                token.trim().as_bytes(),
                Out::from_uninit_slice(&mut decoded),
            )
            .map_err(|_| FreshReason::Malformed)?;
        let format = bytes.first().copied().unwrap_or(0);
        if bytes.len() < HEADER_LEN + MAC_LEN || !(1..=FORMAT).contains(&format) {
            return Err(FreshReason::Malformed);
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let key = self
            .keys
            .iter()
            .find(|k| k.tag == payload[1])
            .ok_or(FreshReason::UnknownKey)?;
        if !same_mac(&Self::signature(key, site, payload, format), mac) {
            return Err(FreshReason::BadSignature);
        }
        read(Verified {
            format,
            fingerprint: u32::from_le_bytes([payload[2], payload[3], payload[4], payload[5]]),
            body: &payload[HEADER_LEN..],
        })
    }
}

/// A token whose MAC matched: what [`Keyring::verified`] lends to its reader.
pub(crate) struct Verified<'a> {
    /// The token format, 1 to [`FORMAT`].
    pub(crate) format: u8,
    /// The fingerprint of the shape the profile was made under, in the format's own terms
    /// (see [`ProfileShape::fingerprint_for`]).
    pub(crate) fingerprint: u32,
    /// The profile, as [`read_profile`] reads it.
    pub(crate) body: &'a [u8],
}

/// Whether a profile made at `last_seen` may be used at `now` under a horizon of `horizon`
/// seconds: not from the future (beyond the tolerated clock skew), and not past the horizon.
pub(crate) fn check_age(last_seen: i64, horizon: i64, now: Timestamp) -> Result<(), FreshReason> {
    if last_seen > now.secs() + SKEW_SECS {
        return Err(FreshReason::FromTheFuture);
    }
    if now.secs() - last_seen > horizon {
        return Err(FreshReason::Expired);
    }
    Ok(())
}

impl Profile {
    /// The profile without a MAC, with the shape it was made under: what the audience store
    /// keeps of a visitor. It is the token's payload without the key tag: base64url of the
    /// format (`3`), the shape's fingerprint (u32 little-endian), the visitor id and the
    /// profile, laid out as in a token (see the module documentation of `token.rs`).
    ///
    /// It is not signed: keep it only where visitors cannot write. Read it back with
    /// [`ProfileShape::read_plain`], or with [`crate::Rules::read_plain`], which also carries
    /// it over when it was made under an earlier shape.
    pub fn to_plain<S: AsRef<ProfileShape> + ?Sized>(&self, shape: &S) -> String {
        let shape = shape.as_ref();
        let mut buf = vec![0u8; max_payload_len(shape)];
        let mut w = Writer {
            buf: &mut buf,
            len: 0,
        };
        w.push(FORMAT);
        w.extend(&shape.fingerprint().to_le_bytes());
        write_profile(&mut w, shape, self);
        let len = w.len.min(buf.len());
        URL_SAFE_NO_PAD.encode_to_string(&buf[..len])
    }
}

/// The fingerprint a plain profile ([`Profile::to_plain`]) names its shape by, or why it
/// cannot be read.
pub(crate) fn plain_parts(text: &str) -> Result<(u32, Vec<u8>), FreshReason> {
    if text.len() > 2 * Limits::TOKEN_BYTES {
        return Err(FreshReason::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode_to_vec(text.trim().as_bytes())
        .map_err(|_| FreshReason::Malformed)?;
    if bytes.len() < 5 || bytes[0] != FORMAT {
        return Err(FreshReason::Malformed);
    }
    let fingerprint = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((fingerprint, bytes[5..].to_vec()))
}

impl ProfileShape {
    /// Reads a plain profile ([`Profile::to_plain`]) made under this very shape. One made under
    /// another shape is refused as [`FreshReason::OtherRules`]; [`crate::Rules::read_plain`]
    /// carries those over.
    pub fn read_plain(&self, text: &str) -> Result<Profile, FreshReason> {
        let (fingerprint, body) = plain_parts(text)?;
        if fingerprint != self.fingerprint() {
            return Err(FreshReason::OtherRules);
        }
        read_profile(&body, self, FORMAT).ok_or(FreshReason::Malformed)
    }
}

/// The block a format 2 MAC starts with: the domain label, the site id's length (one byte) and
/// the site id, zero-filled to a whole number of SHA-256 blocks (64 bytes), so that a keyring can
/// hash it once per site. The length byte keeps every site's block distinct. A site id too long
/// for the buffer (never a valid one: those are at most 64 bytes) is named by its SHA-256 under
/// the length byte 255, which no site id that fits has. Returns the buffer and how much of it is
/// the block.
fn site_block(site: &str) -> ([u8; 2 * 64], usize) {
    let mut block = [0u8; 2 * 64];
    let site = site.as_bytes();
    let start = DOMAIN.len() + 1;
    block[..DOMAIN.len()].copy_from_slice(DOMAIN);
    let end = if site.len() <= block.len() - start {
        block[DOMAIN.len()] = site.len() as u8;
        block[start..start + site.len()].copy_from_slice(site);
        start + site.len()
    } else {
        block[DOMAIN.len()] = u8::MAX;
        block[start..start + MAC_LEN].copy_from_slice(&Sha256::digest(site));
        start + MAC_LEN
    };
    (block, end.div_ceil(64) * 64)
}

/// Whether two MACs are equal, in a time that does not depend on where they differ: every byte
/// is compared, without a branch, and the result is only looked at once. (`hmac`'s own
/// `verify_slice` does the same through a per-byte constant-time select that costs more than
/// this whole function in wasm.)
fn same_mac(a: &[u8; MAC_LEN], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    b.len() == MAC_LEN && std::hint::black_box(diff) == 0
}

/// A token's bytes as they are written into a buffer of a fixed size. Past its end, bytes are
/// counted but not kept, and [`Writer::written`] says so.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
        }
        self.len += 1;
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    /// The bytes written, unless they did not all fit.
    fn written(&self) -> Option<&[u8]> {
        self.buf.get(..self.len)
    }
}

fn put_varint(buf: &mut Writer<'_>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Writes the profile as format 3 lays it out after the header: visitor id, then the profile.
fn write_profile(buf: &mut Writer<'_>, shape: &ProfileShape, p: &Profile) {
    let age = |t: i64| (p.last_seen - t).max(0) as u64;
    match &p.visitor {
        Some(id) => {
            buf.push(VisitorId::BYTES as u8);
            buf.extend(id.as_bytes());
        }
        None => buf.push(0),
    }
    put_varint(buf, p.last_seen.max(0) as u64);
    put_varint(buf, u64::from(p.visits_total));
    buf.push(p.visits.len() as u8);
    for v in &p.visits {
        put_varint(buf, age(v.start));
        if shape.visit_engagement {
            put_varint(buf, u64::from(v.seconds));
            buf.push(v.scroll);
        }
        if shape.tests_visits() {
            put_varint(buf, (u64::from(v.tests) << 1) | u64::from(v.landed));
        }
    }
    for (i, plan) in shape.series.iter().enumerate() {
        let hits = p.series(i);
        buf.push(hits.len() as u8);
        for h in hits {
            put_varint(buf, age(h.at));
            if plan.engagement {
                put_varint(buf, u64::from(h.seconds));
                buf.push(h.scroll);
            }
        }
    }
    if shape.score.is_some() {
        buf.extend(&(p.score as f32).to_le_bytes());
        put_varint(buf, age(p.score_at));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        // Most fields fit in one byte: that case is inlined, longer ones are not.
        let first = self.byte()?;
        if first < 0x80 {
            return Some(u64::from(first));
        }
        self.long_varint(first)
    }

    #[inline(never)]
    fn long_varint(&mut self, first: u8) -> Option<u64> {
        let mut v = u64::from(first & 0x7f);
        for shift in (7..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A varint no larger than `max`.
    #[inline(always)]
    fn bounded(&mut self, max: u64) -> Option<u64> {
        self.varint().filter(|v| *v <= max)
    }
}

/// Reads a profile made under `shape` in token format `format` (1 to 3), from the bytes after
/// the header. A format 1 profile comes out as later formats would have kept it: without the
/// visit fields no rule reads.
pub(crate) fn read_profile(bytes: &[u8], shape: &ProfileShape, format: u8) -> Option<Profile> {
    let mut r = Reader { bytes, pos: 0 };
    let visitor = if format >= 3 {
        match usize::from(r.byte()?) {
            0 => None,
            VisitorId::BYTES => {
                let mut id = [0u8; VisitorId::BYTES];
                for b in &mut id {
                    *b = r.byte()?;
                }
                Some(VisitorId::from_random_bytes(id))
            }
            _ => return None,
        }
    } else {
        None
    };
    let horizon = shape.horizon as u64;
    let last_seen = i64::try_from(r.bounded(1 << 40)?).ok()?;
    let visits_total = u32::try_from(r.varint()?).ok()?;
    let n_visits = usize::from(r.byte()?);
    if n_visits > Limits::VISITS_KEPT {
        return None;
    }
    // Room for the visit a call may start without growing the list.
    let mut visits = Vec::with_capacity(n_visits + 1);
    let every_field = format == 1;
    let tested = shape.tests_visits();
    for _ in 0..n_visits {
        let start = last_seen - r.bounded(horizon)? as i64;
        let (seconds, scroll) = if shape.visit_engagement || every_field {
            (
                r.bounded(u64::from(MAX_SECONDS))? as u32,
                r.byte().filter(|s| *s <= 100)?,
            )
        } else {
            (0, 0)
        };
        // Without visit tests or filters, every visit counts as landed (see `Profile::fold`).
        let bits = if tested || every_field {
            r.bounded((1u64 << (shape.visit_tests.len() + 1)) - 1)?
        } else {
            1
        };
        let engaged = shape.visit_engagement;
        visits.push(VisitRec {
            start,
            seconds: if engaged { seconds } else { 0 },
            scroll: if engaged { scroll } else { 0 },
            tests: (bits >> 1) as u32,
            landed: bits & 1 == 1 || !tested,
        });
    }
    // Every series' hits in one list; at most as many bytes as remain, with room for a few
    // more hits, as a call usually adds some.
    let mut hits = Vec::with_capacity((bytes.len() - r.pos).min(256) + 4);
    for (i, plan) in shape.series.iter().enumerate() {
        let series = u16::try_from(i).ok()?;
        let n = usize::from(r.byte()?);
        if n > plan.capacity {
            return None;
        }
        for _ in 0..n {
            let at = last_seen - r.bounded(horizon)? as i64;
            let (seconds, scroll) = if plan.engagement {
                (
                    r.bounded(u64::from(MAX_SECONDS))? as u32,
                    r.byte().filter(|s| *s <= 100)?,
                )
            } else {
                (0, 0)
            };
            hits.push(Hit {
                at,
                seconds,
                scroll,
                series,
            });
        }
    }
    let (score, score_at) = if shape.score.is_some() {
        let raw = [r.byte()?, r.byte()?, r.byte()?, r.byte()?];
        let score = f64::from(f32::from_le_bytes(raw));
        if !score.is_finite() {
            return None;
        }
        (score, last_seen - r.bounded(1 << 40)? as i64)
    } else {
        (0.0, 0)
    };
    if r.pos != bytes.len() || (visits_total as usize) < visits.len() {
        return None;
    }
    Some(Profile {
        visitor,
        last_seen,
        visits_total,
        visits,
        hits,
        score,
        score_at,
    })
}

/// The longest payload (header, visitor id and profile, without the MAC) of a token made under
/// `shape`, whatever the history.
fn max_payload_len(shape: &ProfileShape) -> usize {
    let horizon = varint_len(shape.horizon as u64);
    let seconds = varint_len(u64::from(MAX_SECONDS));
    let engagement = if shape.visit_engagement {
        seconds + 1
    } else {
        0
    };
    let tests = if shape.tests_visits() {
        varint_len((1u64 << (shape.visit_tests.len() + 1)) - 1)
    } else {
        0
    };
    let mut n = HEADER_LEN + 1 + VisitorId::BYTES + 6 /* last seen */ + 5 /* visits */ + 1;
    n += Limits::VISITS_KEPT * (horizon + engagement + tests);
    for s in &shape.series {
        n += 1 + s.capacity * (horizon + if s.engagement { seconds + 1 } else { 0 });
    }
    if shape.score.is_some() {
        n += 4 + 6;
    }
    n
}

/// The longest token a profile of `shape` can be, in characters, whatever the history.
pub(crate) fn max_token_len(shape: &ProfileShape) -> usize {
    (max_payload_len(shape) + MAC_LEN).div_ceil(3) * 4
}
