//! Just enough URL handling for behaviour: the path of a page, its UTM parameters, a host.
//!
//! The engine does not need a full URL parser: it reads the path to match page groups, the query
//! of a landing page for UTM parameters, and the host of a referrer. Each is a linear scan.

use std::borrow::Cow;

/// The path of `url`, lower-cased, without query or fragment. Accepts full URLs
/// (`https://acme.test/Pricing?x=1`) and bare paths (`/pricing`).
/// Borrows from `url` when the path is already lower-case, as most are.
pub(crate) fn path_of(url: &str) -> Cow<'_, str> {
    let rest = after_authority(url);
    let end = find_byte(rest, |b| b == b'?' || b == b'#').unwrap_or(rest.len());
    let path = &rest[..end];
    if path.is_empty() {
        Cow::Borrowed("/")
    } else if path.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(path.to_ascii_lowercase())
    } else {
        Cow::Borrowed(path)
    }
}

/// The query string of `url` (without `?` and fragment), if it has one.
pub(crate) fn query_of(url: &str) -> &str {
    let Some(start) = url.find('?') else {
        return "";
    };
    let q = &url[start + 1..];
    &q[..q.find('#').unwrap_or(q.len())]
}

/// The value of query parameter `name` in `url`, percent-decoded and lower-cased.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    query_of(url).split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v).to_ascii_lowercase())
    })
}

/// The host of `url`, lower-cased and without port or `www.`; `None` for bare paths.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let rest = &url[scheme_end(url)? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let host = host.strip_prefix("www.").map(str::to_owned).unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// Where `://` first occurs in `url`. A plain byte scan: a substring searcher's set-up costs
/// more than the scan for a three-byte needle in a short URL.
/// The first byte of `s` that `hit` picks. For ASCII delimiters: a byte search, where `str::find`
/// with a set of `char`s decodes every character.
fn find_byte(s: &str, hit: impl Fn(u8) -> bool) -> Option<usize> {
    s.bytes().position(hit)
}

/// Where the first `://` of `url` starts.
pub(crate) fn scheme_end(url: &str) -> Option<usize> {
    let bytes = url.as_bytes();
    let mut from = 0;
    // Each `:` in turn (usually the scheme's, a few bytes in), rather than every 3-byte window.
    while let Some(i) = find_byte(&url[from..], |b| b == b':') {
        let at = from + i;
        if bytes.get(at + 1..at + 3) == Some(b"//") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn after_authority(url: &str) -> &str {
    match scheme_end(url) {
        Some(i) => {
            let rest = &url[i + 3..];
            match find_byte(rest, |b| b == b'/' || b == b'?' || b == b'#') {
                Some(j) => &rest[j..],
                None => "",
            }
        }
        None => url,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path_of("https://acme.test/Pricing?utm_source=x#top"),
            "/pricing"
        );
        assert_eq!(path_of("https://acme.test"), "/");
        assert_eq!(path_of("/docs/start"), "/docs/start");
        assert_eq!(path_of(""), "/");
    }

    #[test]
    fn query_params() {
        let url = "https://acme.test/?utm_source=Google&utm_campaign=spring%20sale+2026#x";
        assert_eq!(query_param(url, "utm_source").as_deref(), Some("google"));
        assert_eq!(
            query_param(url, "utm_campaign").as_deref(),
            Some("spring sale 2026")
        );
        assert_eq!(query_param(url, "utm_medium"), None);
        assert_eq!(query_param("/x?a=%zz%4", "a").as_deref(), Some("%zz%4"));
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://www.LinkedIn.com/feed").as_deref(),
            Some("linkedin.com")
        );
        assert_eq!(
            host_of("http://user@news.ycombinator.com:8080/x").as_deref(),
            Some("news.ycombinator.com")
        );
        assert_eq!(host_of("/local"), None);
    }
}
