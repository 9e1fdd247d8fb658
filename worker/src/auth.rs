//! The admin API's bearer token check.

use sha2::{Digest, Sha256};

/// True when an `Authorization` header carries `Bearer <expected>`.
///
/// Both tokens are hashed first and the digests compared without an early exit, so the time
/// taken says nothing about how much of a guess was right, nor about the token's length.
pub fn bearer_matches(authorization: Option<&str>, expected: &str) -> bool {
    let Some(header) = authorization else {
        return false;
    };
    let header = header.trim();
    let Some((scheme, presented)) = header.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") || expected.is_empty() {
        return false;
    }
    constant_time_eq(presented.trim().as_bytes(), expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let a = Sha256::digest(a);
    let b = Sha256::digest(b);
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(Some("bearer  s3cret "), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cretx"), "s3cret"));
        assert!(!bearer_matches(Some("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
        // An unset token never matches, not even an empty bearer.
        assert!(!bearer_matches(Some("Bearer "), ""));
    }
}
