//! The proxy-mode profile cookie.

/// Name of the first-party cookie that carries the signed profile token in proxy mode.
pub const PROFILE_COOKIE: &str = "intent_profile";

/// Name of the first-party cookie in which the snippet keeps the visitor's consent choice
/// (`granted` or `denied`; see `docs/PRIVACY.md`, "Consent").
pub const CONSENT_COOKIE: &str = "intent_consent";

/// The visitor's consent choice, as the consent cookie says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChoice {
    /// `intent_consent=granted`.
    Granted,
    /// `intent_consent=denied`.
    Denied,
}

/// Finds the value of the cookie `name` in a `Cookie` header.
fn cookie_value<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name)
            .then(|| value.trim().trim_matches('"'))
            .filter(|v| !v.is_empty())
    })
}

/// Finds the profile token in a `Cookie` header.
pub fn profile_from_cookie_header(header: &str) -> Option<&str> {
    cookie_value(header, PROFILE_COOKIE)
}

/// Reads the consent choice from a `Cookie` header; any value but `granted` or `denied` is no
/// choice.
pub fn consent_from_cookie_header(header: &str) -> Option<ConsentChoice> {
    match cookie_value(header, CONSENT_COOKIE)? {
        "granted" => Some(ConsentChoice::Granted),
        "denied" => Some(ConsentChoice::Denied),
        _ => None,
    }
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
    fn reads_the_consent_cookie() {
        assert_eq!(
            consent_from_cookie_header("intent_consent=granted; intent_profile=x"),
            Some(ConsentChoice::Granted)
        );
        assert_eq!(
            consent_from_cookie_header("a=1;intent_consent=denied"),
            Some(ConsentChoice::Denied)
        );
        assert_eq!(consent_from_cookie_header("intent_consent=yes"), None);
        assert_eq!(
            consent_from_cookie_header("my_intent_consent=granted"),
            None
        );
        assert_eq!(consent_from_cookie_header(""), None);
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
