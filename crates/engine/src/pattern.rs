//! Patterns where `*` stands for any run of characters, compiled to literal pieces and matched
//! in linear time: page-group paths (`/pricing*`, `/customers/*`), click targets, UTM values and
//! referrer hosts (`*.linkedin.com`).
//!
//! `*` matches any run of characters, `/` included. There is no other syntax, so there is no way to write a
//! pattern that backtracks: matching anchors the first and last pieces, then finds each middle
//! piece leftmost-first, which is correct for `*`-only globs and linear in the path's length.

/// A compiled `*` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    prefix: String,
    middle: Vec<String>,
    suffix: String,
    /// Whether the pattern has a `*` at all; without one it must equal the path.
    wildcard: bool,
}

impl Glob {
    /// Compiles `pattern`; matching is ASCII case-insensitive.
    pub(crate) fn compile(pattern: &str) -> Self {
        let lower = pattern.to_ascii_lowercase();
        let mut pieces: Vec<&str> = lower.split('*').collect();
        if pieces.len() == 1 {
            return Glob {
                prefix: lower.clone(),
                middle: Vec::new(),
                suffix: String::new(),
                wildcard: false,
            };
        }
        let suffix = pieces.pop().unwrap_or_default().to_owned();
        let prefix = pieces.first().copied().unwrap_or_default().to_owned();
        let middle = pieces
            .iter()
            .skip(1)
            .filter(|p| !p.is_empty())
            .map(|p| (*p).to_owned())
            .collect();
        Glob {
            prefix,
            middle,
            suffix,
            wildcard: true,
        }
    }

    /// The compiled pieces: prefix, middle pieces, suffix, and whether there was a `*` at all.
    /// Only the fingerprints of old tokens read them ([`crate::shape::legacy`]).
    pub(crate) fn parts(&self) -> (&str, &[String], &str, bool) {
        (&self.prefix, &self.middle, &self.suffix, self.wildcard)
    }

    /// Whether `text`, already lower-cased, matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        if !self.wildcard {
            return path == self.prefix;
        }
        if path.len() < self.prefix.len() + self.suffix.len() {
            return false;
        }
        // Page groups' patterns mostly differ in their prefix's last byte (`/pricing*`,
        // `/docs*`): testing it first turns most misses away without comparing the prefix.
        let last = self.prefix.len().checked_sub(1);
        if last.is_some_and(|i| path.as_bytes()[i] != self.prefix.as_bytes()[i])
            || !path.starts_with(&self.prefix)
            || !path.ends_with(&self.suffix)
        {
            return false;
        }
        let mut rest = &path[self.prefix.len()..path.len() - self.suffix.len()];
        for piece in &self.middle {
            match rest.find(piece.as_str()) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, path: &str) -> bool {
        Glob::compile(p).matches(path)
    }

    #[test]
    fn prefixes_and_segments() {
        assert!(m("/pricing*", "/pricing"));
        assert!(m("/pricing*", "/pricing/enterprise"));
        assert!(!m("/pricing*", "/about/pricing"));
        assert!(m("/customers/*", "/customers/northwind"));
        assert!(!m("/customers/*", "/customers"));
        assert!(m("/Docs", "/docs"));
        assert!(!m("/docs", "/docs/x"));
    }

    #[test]
    fn middles_and_overlaps() {
        assert!(m("/a*b*c", "/abc"));
        assert!(m("/a*b*c", "/axxbyyc"));
        assert!(!m("/a*b*c", "/axxcyyb"));
        assert!(m("/*/pricing", "/de/pricing"));
        assert!(!m("/ab*ba", "/aba"));
        assert!(m("/**", "/x"));
    }

    #[test]
    fn pathological_input_is_linear() {
        let p = Glob::compile("/*a*a*a*a*a*a*a*a*a*b");
        let path = format!("/{}", "a".repeat(100_000));
        assert!(!p.matches(&path));
    }
}
