//! The worker's configuration, read from `wrangler.toml` vars and secrets.
//!
//! Parsing is kept apart from the Workers `Env` so that it is tested natively.

/// Vars and secrets the worker reads; the names are the keys in `wrangler.toml` / `.dev.vars`.
pub mod names {
    /// Comma-separated site ids accepted in `/v1/collect` (the snippet's `data-site`).
    /// The first one is the site of proxy mode.
    pub const SITES: &str = "SITES";
    /// Comma-separated origins (`https://www.acme.com`) allowed to call the API from a browser.
    pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
    /// The origin pages are fetched from in proxy mode; empty serves the bundled site.
    pub const ORIGIN: &str = "ORIGIN";
    /// Seconds a rules config read from KV is reused by an isolate before it is read again.
    pub const RULES_CACHE_SECONDS: &str = "RULES_CACHE_SECONDS";
    /// Milliseconds a request waits for the rules from KV before it goes on with the rules it
    /// already has (or the built-in ones); `0` never waits.
    pub const RULES_KV_TIMEOUT_MS: &str = "RULES_KV_TIMEOUT_MS";
    /// Secret: the token signing keyring, `id:secret[,id:secret...]`; the first key signs.
    pub const PROFILE_KEYS: &str = "PROFILE_KEYS";
    /// Secret: the bearer token of the admin API.
    pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
    /// The KV namespace binding that holds the rules.
    pub const RULES_KV: &str = "RULES";
    /// The static assets binding (the demo site and the snippet files).
    pub const ASSETS: &str = "ASSETS";
    /// Whether tracking needs the visitor's prior consent: `implied` (the default) or
    /// `required`.
    pub const CONSENT: &str = "CONSENT";
}

/// Whether the site tracks a visitor before they consent (the `CONSENT` var).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consent {
    /// Tracking unless GPC, Do Not Track, a bot, a page opt-out or a denied consent says no.
    #[default]
    Implied,
    /// Tracking only with the consent cookie `intent_consent=granted` (or, cross-origin, a
    /// call from the snippet, which sends nothing without consent).
    Required,
}

impl Consent {
    /// Reads the `CONSENT` var: missing or blank is `implied`. Any other value is refused
    /// with a message for the operator's log, and the site is treated as `required`: a typo
    /// must never track visitors who were meant to be asked first.
    pub fn from_var(value: Option<&str>) -> (Self, Option<String>) {
        match value.map(str::trim).unwrap_or("") {
            "" | "implied" => (Self::Implied, None),
            "required" => (Self::Required, None),
            other => (
                Self::Required,
                Some(format!(
                    "CONSENT must be `implied` or `required`, not `{}`; treating the site as \
                     `required` until it is fixed",
                    other.chars().take(40).collect::<String>()
                )),
            ),
        }
    }
}

/// KV keys of the rules namespace.
pub mod keys {
    /// The published rules config (JSON text).
    pub const RULES: &str = "rules";
    /// The config that `rules` replaced, kept for rollback.
    pub const PREVIOUS: &str = "rules:previous";
}

/// Default isolate cache lifetime of the rules, in seconds.
pub const DEFAULT_RULES_CACHE_SECONDS: u64 = 30;

/// Default time a request waits for a KV read of the rules, in milliseconds. A warm read takes
/// a few milliseconds and a cold one rarely a few hundred; past this, KV is treated as down.
pub const DEFAULT_RULES_KV_TIMEOUT_MS: u64 = 500;

/// The worker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Accepted site ids; never empty (defaults to `demo`).
    pub sites: Vec<String>,
    /// Origins allowed for CORS, normalised (no trailing slash, lower-case scheme and host).
    pub allowed_origins: Vec<String>,
    /// Proxy mode's origin, without a trailing slash; `None` serves the bundled site.
    pub origin: Option<String>,
    /// Rules cache lifetime in milliseconds.
    pub rules_cache_ms: u64,
    /// How long a request waits for KV's rules, in milliseconds (`0`: not at all).
    pub rules_kv_timeout_ms: u64,
    /// Whether tracking needs prior consent (`CONSENT`; set with [`Settings::with_consent`]).
    pub consent: Consent,
}

impl Settings {
    /// Builds the settings from the raw var values (missing vars are `None`).
    pub fn from_vars(
        sites: Option<&str>,
        allowed_origins: Option<&str>,
        origin: Option<&str>,
        rules_cache_seconds: Option<&str>,
        rules_kv_timeout_ms: Option<&str>,
    ) -> Self {
        let mut sites = split_list(sites.unwrap_or(""));
        if sites.is_empty() {
            sites.push("demo".to_owned());
        }
        let allowed_origins = split_list(allowed_origins.unwrap_or(""))
            .iter()
            .map(|o| normalise_origin(o))
            .collect();
        let origin = origin
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty());
        let rules_cache_ms = rules_cache_seconds
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_RULES_CACHE_SECONDS)
            .saturating_mul(1000);
        let rules_kv_timeout_ms = rules_kv_timeout_ms
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_RULES_KV_TIMEOUT_MS);
        Self {
            sites,
            allowed_origins,
            origin,
            rules_cache_ms,
            rules_kv_timeout_ms,
            consent: Consent::Implied,
        }
    }

    /// The settings with the `CONSENT` var read; the message says why a value was refused.
    pub fn with_consent(mut self, value: Option<&str>) -> (Self, Option<String>) {
        let (consent, warning) = Consent::from_var(value);
        self.consent = consent;
        (self, warning)
    }

    /// The site that proxy mode records page views for.
    pub fn proxy_site(&self) -> &str {
        self.sites.first().map(String::as_str).unwrap_or("demo")
    }

    /// True when `site` is one of the configured sites.
    pub fn knows_site(&self, site: &str) -> bool {
        self.sites.iter().any(|s| s == site)
    }

    /// True when a browser on `origin` may read the API's answers.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = normalise_origin(origin);
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || *o == origin)
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn normalise_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = Settings::from_vars(None, None, None, None, None);
        assert_eq!(s.sites, ["demo"]);
        assert!(s.allowed_origins.is_empty());
        assert_eq!(s.origin, None);
        assert_eq!(s.rules_cache_ms, 30_000);
        assert_eq!(s.rules_kv_timeout_ms, 500);
        assert!(!s.allows_origin("http://127.0.0.1:8787"));
    }

    #[test]
    fn lists_and_origins() {
        let s = Settings::from_vars(
            Some("acme, demo"),
            Some("https://www.acme.com/, http://127.0.0.1:8787"),
            Some(" https://origin.acme.com/ "),
            Some("0"),
            Some("0"),
        );
        assert_eq!(s.sites, ["acme", "demo"]);
        assert_eq!(s.proxy_site(), "acme");
        assert!(s.knows_site("demo"));
        assert!(!s.knows_site("other"));
        assert!(s.allows_origin("https://WWW.acme.com"));
        assert!(s.allows_origin("http://127.0.0.1:8787"));
        assert!(!s.allows_origin("https://evil.test"));
        assert_eq!(s.origin.as_deref(), Some("https://origin.acme.com"));
        assert_eq!(s.rules_cache_ms, 0);
        assert_eq!(s.rules_kv_timeout_ms, 0);
    }

    #[test]
    fn consent_is_implied_unless_required_and_a_typo_asks_first() {
        let s = Settings::from_vars(None, None, None, None, None);
        assert_eq!(s.consent, Consent::Implied);
        assert_eq!(s.clone().with_consent(None).0.consent, Consent::Implied);
        assert_eq!(s.clone().with_consent(Some("")).0.consent, Consent::Implied);
        let (s2, warning) = s.clone().with_consent(Some(" required "));
        assert_eq!((s2.consent, warning), (Consent::Required, None));
        let (s3, warning) = s.with_consent(Some("requried"));
        assert_eq!(s3.consent, Consent::Required);
        assert!(warning.is_some_and(|w| w.contains("`requried`")));
    }

    #[test]
    fn empty_origin_means_bundled_site() {
        let s = Settings::from_vars(None, None, Some(""), Some("not a number"), Some("-5"));
        assert_eq!(s.origin, None);
        assert_eq!(s.rules_cache_ms, 30_000);
        assert_eq!(s.rules_kv_timeout_ms, 500);
    }
}
