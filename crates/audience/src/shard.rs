//! Sharding a large site's store by visitor: `site:N`.
//!
//! One Durable Object serves about a thousand requests a second and holds 10 GB. A site past
//! that splits its store into N shards, each its own object named `<site>:<n>` (`acme:0` …
//! `acme:3`); a visitor always lands on the shard of a stable hash of their id, so each visitor's
//! record, events and memberships live in one shard. Writes go to one shard; list queries ask
//! every shard and merge ([`crate::merge_members`], [`crate::merge_accounts`]), and counts add up.
//!
//! The shard count is a setting (`AUDIENCE_SHARDS`: `4` for every site, or `acme=4,demo=1`,
//! default 1). Choose it before the site's traffic arrives: a changed count sends visitors to
//! other shards, and the records already stored stay where they were.

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Most shards a site may have.
pub const MAX_SHARDS: u16 = 256;

/// How many shards each site's store has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sharding {
    default: Option<u16>,
    sites: Vec<(String, u16)>,
}

impl Sharding {
    /// Reads the `AUDIENCE_SHARDS` setting: empty (one shard each), a count for every site
    /// (`4`), or counts per site (`acme=4,demo=1`, with `*=2` for the others).
    pub fn parse(setting: &str) -> Result<Sharding, Error> {
        let mut out = Sharding::default();
        let count = |s: &str| -> Result<u16, Error> {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_SHARDS).contains(n))
                .ok_or_else(|| {
                    Error::param(
                        "AUDIENCE_SHARDS",
                        format!("`{s}` is not a shard count from 1 to {MAX_SHARDS}"),
                    )
                })
        };
        for part in setting.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                None | Some(("*", _)) => {
                    let n = part.split_once('=').map_or(part, |(_, n)| n);
                    out.default = Some(count(n)?);
                }
                Some((site, n)) => out.sites.push((site.trim().to_owned(), count(n)?)),
            }
        }
        Ok(out)
    }

    /// The number of shards of `site`.
    pub fn shards(&self, site: &str) -> u16 {
        self.sites
            .iter()
            .find(|(s, _)| s == site)
            .map(|(_, n)| *n)
            .or(self.default)
            .unwrap_or(1)
    }

    /// The shard of `visitor` among `site`'s shards.
    pub fn shard_of(&self, site: &str, visitor: &str) -> u16 {
        shard_of(visitor, self.shards(site))
    }
}

/// The shard of `visitor` among `shards`: the first eight bytes of SHA-256 of the id, modulo
/// the count. Stable across versions and platforms.
pub fn shard_of(visitor: &str, shards: u16) -> u16 {
    let d = Sha256::digest(visitor.as_bytes());
    let h = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    (h % u64::from(shards.max(1))) as u16
}

/// The Durable Object name of shard `n` of `site`: `site:n`.
pub fn object_name(site: &str, shard: u16) -> String {
    format!("{site}:{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_setting() {
        let s = Sharding::parse("acme=4, *=2").unwrap();
        assert_eq!(s.shards("acme"), 4);
        assert_eq!(s.shards("demo"), 2);
        assert_eq!(Sharding::parse("").unwrap().shards("demo"), 1);
        assert_eq!(Sharding::parse("3").unwrap().shards("x"), 3);
        for bad in ["0", "acme=x", "999", "-1"] {
            let err = Sharding::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("`AUDIENCE_SHARDS`"), "{bad}: {err}");
        }
    }

    #[test]
    fn visitors_spread_stably_over_shards() {
        let mut seen = [0u32; 4];
        for i in 0..4000 {
            seen[usize::from(shard_of(&format!("visitor-{i:012}"), 4))] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        // Fixed forever: a visitor's shard must not move between versions.
        // (Computed once, independently: the first eight bytes of SHA-256, little-endian.)
        assert_eq!(shard_of("AAAAAAAAAAAAAAAAAAAAAA", 4), 2);
        assert_eq!(shard_of("AAAAAAAAAAAAAAAAAAAAAA", 7), 1);
        assert_eq!(shard_of("v00000001-Zm9vYmFyYmF6", 7), 3);
        assert_eq!(shard_of("anything", 1), 0);
        assert_eq!(object_name("acme", 3), "acme:3");
    }
}
