//! The proxy-mode profile cookie.

/// Name of the first-party cookie that carries the signed profile token in proxy mode.
pub const PROFILE_COOKIE: &str = "intent_profile";

/// Finds the profile token in a `Cookie` header.
pub fn profile_from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == PROFILE_COOKIE)
            .then(|| value.trim().trim_matches('"'))
            .filter(|v| !v.is_empty())
    })
}

/// True for hosts a browser treats as a secure context over plain HTTP.
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or(host.clone())
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_owned())
            .unwrap_or(host.clone())
    };
    name == "localhost" || name.ends_with(".localhost") || name == "127.0.0.1" || name == "[::1]"
}

/// The `Set-Cookie` value storing `token` for `max_age_secs`: the rules' horizon, so the cookie
/// lasts exactly as long as its token can still be used (each visit sets it again, so it runs
/// from the last activity, as the token's expiry does). `Secure` everywhere except on a local
/// host, where `wrangler dev` serves plain HTTP.
pub fn set_profile_cookie(token: &str, host: &str, max_age_secs: u64) -> String {
    let secure = if is_local_host(host) { "" } else { "; Secure" };
    format!(
        "{PROFILE_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    )
}

/// The `Set-Cookie` value deleting the cookie (a visitor who turned on a privacy signal).
pub fn clear_profile_cookie(host: &str) -> String {
    let secure = if is_local_host(host) { "" } else { "; Secure" };
    format!("{PROFILE_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie() {
        assert_eq!(
            profile_from_cookie_header("a=1; intent_profile=abc.def; b=2"),
            Some("abc.def")
        );
        assert_eq!(profile_from_cookie_header("intent_profile="), None);
        assert_eq!(profile_from_cookie_header("other=1"), None);
        assert_eq!(profile_from_cookie_header(""), None);
    }

    #[test]
    fn secure_except_locally() {
        assert_eq!(
            set_profile_cookie("t", "www.acme.com", 7_776_000),
            "intent_profile=t; Path=/; Max-Age=7776000; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!set_profile_cookie("t", "127.0.0.1:8787", 60).contains("Secure"));
        assert!(!set_profile_cookie("t", "localhost:8787", 60).contains("Secure"));
        assert!(!set_profile_cookie("t", "[::1]:8787", 60).contains("Secure"));
        assert!(set_profile_cookie("t", "localhost.evil.com", 60).contains("Secure"));
        assert!(clear_profile_cookie("acme.com").contains("Max-Age=0"));
    }
}
