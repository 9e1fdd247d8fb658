//! Pages of members, their cursors, CSV, and merging the pages of several shards.

use base64_simd::URL_SAFE_NO_PAD;
use intent_engine::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::check_visitor;
use crate::store::Audience;

/// The header of an audience's CSV.
pub const CSV_HEADER: &str = "visitor,email,account,tier,segments,score,since,last_seen\n";
/// Members per page when an audience is exported as CSV.
pub const CSV_PAGE: usize = 1_000;
/// Members per page of JSON when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most members per page of JSON.
pub const MAX_LIMIT: usize = 1_000;

/// One member of an audience, as the admin API lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The visitor's id.
    pub visitor: String,
    /// Their email, after an identify event.
    pub email: Option<String>,
    /// Their account (company domain), if known.
    pub account: Option<String>,
    /// Their tier.
    pub tier: String,
    /// Their segments.
    pub segments: Vec<String>,
    /// Their lead score when last computed, when the rules score.
    pub score: Option<f64>,
    /// When they entered this audience.
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::from_rfc3339"
    )]
    pub since: Timestamp,
    /// Their latest event.
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::from_rfc3339"
    )]
    pub last_seen: Timestamp,
}

/// One page of an audience's members, newest entries first:
/// `{"name": "ready", "members": [...], "next_cursor": null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersPage {
    /// The audience's name.
    pub name: String,
    /// The members on this page.
    pub members: Vec<Member>,
    /// The cursor of the next page, or `null` after the last.
    pub next_cursor: Option<String>,
}

/// Where a page of members starts: after the member who entered at `entered` with id
/// `visitor`, in the order newest entry first (ties by id, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) entered: i64,
    pub(crate) visitor: String,
}

impl Cursor {
    /// The opaque text of a cursor within `audience`'s listing.
    pub(crate) fn encode(&self, audience: &Audience) -> String {
        let text = format!(
            "1\n{}\n{}\n{}\n{}",
            audience.kind.as_str(),
            audience.name,
            self.entered,
            self.visitor
        );
        URL_SAFE_NO_PAD.encode_to_string(text.as_bytes())
    }

    /// Reads a cursor given for `audience`'s listing: one that this listing gave, unaltered.
    pub(crate) fn decode(text: &str, audience: &Audience) -> Result<Cursor, Error> {
        let bad = || {
            Error::param(
                "cursor",
                format!(
                    "not a cursor of the `{}` listing; pass `next_cursor` from the previous page as it is",
                    audience.name
                ),
            )
        };
        if text.len() > 512 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode_to_vec(text.trim().as_bytes())
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let parts: Vec<&str> = text.split('\n').collect();
        let [version, kind, name, entered, visitor] = parts[..] else {
            return Err(bad());
        };
        if version != "1" || kind != audience.kind.as_str() || name != audience.name {
            return Err(bad());
        }
        let entered = entered.parse::<i64>().map_err(|_| bad())?;
        check_visitor(visitor).map_err(|_| bad())?;
        Ok(Cursor {
            entered,
            visitor: visitor.to_owned(),
        })
    }
}

/// The order of a listing: newest entry first, ties by visitor id, descending.
fn key(m: &Member) -> (i64, &str) {
    (m.since.secs(), m.visitor.as_str())
}

/// Merges the same page as each shard gave it (same audience, `limit` and `cursor`) into the
/// page the whole site gives: the newest `limit` members of all, and a cursor after the last of
/// them when any shard has more.
pub fn merge_members(audience: &Audience, pages: Vec<MembersPage>, limit: usize) -> MembersPage {
    let more = pages.iter().any(|p| p.next_cursor.is_some());
    let mut members: Vec<Member> = pages.into_iter().flat_map(|p| p.members).collect();
    members.sort_by(|a, b| key(b).cmp(&key(a)));
    let cut = members.len() > limit;
    members.truncate(limit);
    let next_cursor = if cut || more {
        members.last().map(|m| {
            Cursor {
                entered: m.since.secs(),
                visitor: m.visitor.clone(),
            }
            .encode(audience)
        })
    } else {
        None
    };
    MembersPage {
        name: audience.name.clone(),
        members,
        next_cursor,
    }
}

/// Members as CSV rows (after [`CSV_HEADER`]): RFC 4180 quoting, segments `;`-joined, times in
/// RFC 3339. An email that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) is written with a leading `'`, as OWASP advises: anyone can
/// identify with any address.
pub fn csv_rows(members: &[Member]) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(members.len() * 96));
    for m in members {
        let email = m.email.as_deref().map(defuse).unwrap_or_default();
        let score = m.score.map(|s| s.to_string()).unwrap_or_default();
        let row = [
            m.visitor.as_str(),
            email.as_str(),
            m.account.as_deref().unwrap_or(""),
            m.tier.as_str(),
            &m.segments.join(";"),
            score.as_str(),
            &m.since.to_string(),
            &m.last_seen.to_string(),
        ];
        // Writing to memory fails only when memory does; such a row is left out.
        let _ = w.write_record(row);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn defuse(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// What `format` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One page of JSON.
    #[default]
    Json,
    /// The whole audience as CSV, streamed page by page.
    Csv,
}

/// The parameters of `GET /v1/admin/audiences/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembersRequest {
    /// `format=json|csv` (default `json`).
    pub format: Format,
    /// `limit`: members per JSON page, 1 to 1,000 (default 100). CSV lists every member.
    pub limit: usize,
    /// `cursor`: `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl MembersRequest {
    /// Reads the query's parameters; others (`site`) are left to the caller. Errors name the
    /// parameter.
    pub fn from_query<'q>(
        pairs: impl IntoIterator<Item = (&'q str, &'q str)>,
    ) -> Result<MembersRequest, Error> {
        let mut req = MembersRequest {
            limit: DEFAULT_LIMIT,
            ..MembersRequest::default()
        };
        for (key, value) in pairs {
            match key {
                "format" => {
                    req.format = match value {
                        "json" => Format::Json,
                        "csv" => Format::Csv,
                        other => {
                            return Err(Error::param(
                                "format",
                                format!("`{}` is not a format; use `json` or `csv`", shown(other)),
                            ))
                        }
                    }
                }
                "limit" => {
                    req.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            Error::param(
                                "limit",
                                format!(
                                    "`{}` is not a number of members from 1 to {MAX_LIMIT}",
                                    shown(value)
                                ),
                            )
                        })?
                }
                "cursor" if !value.is_empty() => req.cursor = Some(value.to_owned()),
                _ => {}
            }
        }
        if req.format == Format::Csv {
            req.limit = CSV_PAGE;
        }
        Ok(req)
    }
}

/// Reads a window parameter (`within=7d`, `since=30d`); the error names the parameter.
pub fn parse_window(field: &'static str, value: &str) -> Result<i64, Error> {
    intent_engine::Window::parse(value)
        .map(|w| w.secs() as i64)
        .map_err(|e| Error::param(field, e))
}

/// At most 64 characters of a value, for a message.
pub(crate) fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}
