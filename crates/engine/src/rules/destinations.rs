//! The checks of `destinations` and `triggers`: secrets only by reference, URLs that reach
//! the public internet over https, triggers that name what exists.
//!
//! URLs are read with the `url` crate, the WHATWG URL standard that the worker's `fetch` follows,
//! so the host checked here is the host a request would go to (`http://0x7f.1/` is `127.0.0.1`
//! to both). A host name is not resolved here: the edge's `fetch` refuses private addresses
//! itself, and the queue consumer checks each URL again before it sends.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::compile::{check_name, err};
use crate::config::{ConfigError, Destination, FieldPath, RulesConfig, TriggerEvent};

/// What the checks of a rules config allow beyond the public internet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    /// Destinations may be `http://` on a loopback address (`127.0.0.1`, `[::1]`,
    /// `localhost`): the worker's `ALLOW_LOOPBACK_DESTINATIONS` var, `true` only in development
    /// and tests.
    pub allow_loopback_destinations: bool,
}

/// Destinations a config may name at most.
pub const MAX_DESTINATIONS: usize = 20;
/// Triggers a config may have at most.
pub const MAX_TRIGGERS: usize = 50;

/// Checks the config's destinations and triggers.
pub(super) fn check(cfg: &RulesConfig, checks: Checks) -> Result<(), ConfigError> {
    let root = FieldPath::default();
    if cfg.destinations.len() > MAX_DESTINATIONS {
        return err(
            root.key("destinations"),
            format!(
                "{} destinations; at most {MAX_DESTINATIONS}",
                cfg.destinations.len()
            ),
        );
    }
    for (name, d) in &cfg.destinations {
        let path = root.key("destinations").key(name);
        check_name(path.clone(), name, "destination")?;
        check_destination(&path, d, checks)?;
    }
    if cfg.triggers.len() > MAX_TRIGGERS {
        return err(
            root.key("triggers"),
            format!("{} triggers; at most {MAX_TRIGGERS}", cfg.triggers.len()),
        );
    }
    let audiences: BTreeSet<&str> = cfg
        .tiers
        .iter()
        .chain(&cfg.segments)
        .map(|r| r.name.as_str())
        .chain(std::iter::once(cfg.fallback.as_str()))
        .collect();
    let mut keys: Vec<String> = Vec::new();
    for (i, t) in cfg.triggers.iter().enumerate() {
        let path = root.key("triggers").index(i);
        match (t.when, &t.audience) {
            (TriggerEvent::Identified, Some(_)) => {
                return err(
                    path.key("audience"),
                    "an `identified` trigger fires for any visitor who gives an email; remove `audience`",
                )
            }
            (TriggerEvent::AuditWeekly, Some(_)) => {
                return err(
                    path.key("audience"),
                    "an `audit.weekly` trigger sends the audit of all the rules; remove `audience`",
                )
            }
            (TriggerEvent::Entered | TriggerEvent::Left, None) => {
                return err(
                    path,
                    format!(
                        "an `{}` trigger needs an `audience`: a tier or segment name",
                        t.when.as_str()
                    ),
                )
            }
            (_, Some(a)) if !audiences.contains(a.as_str()) => {
                let known: Vec<String> = audiences.iter().map(|a| format!("`{a}`")).collect();
                return err(
                    path.key("audience"),
                    format!(
                        "no tier or segment is called `{a}`; the rules have {}",
                        known.join(", ")
                    ),
                );
            }
            _ => {}
        }
        if t.to.is_empty() {
            return err(path.key("to"), "name at least one destination to notify");
        }
        if t.when == TriggerEvent::AuditWeekly && t.at_most.is_some() {
            return err(
                path.key("at_most"),
                "the audit is sent once a week; `at_most` limits notifications per visitor, remove it",
            );
        }
        for (j, to) in t.to.iter().enumerate() {
            if !cfg.destinations.contains_key(to) {
                let known: Vec<String> =
                    cfg.destinations.keys().map(|d| format!("`{d}`")).collect();
                let have = if known.is_empty() {
                    "the rules define no `destinations`".to_owned()
                } else {
                    format!("the destinations are {}", known.join(", "))
                };
                return err(
                    path.key("to").index(j),
                    format!("no destination is called `{to}`; {have}"),
                );
            }
            if let Some(d) = cfg.destinations.get(to) {
                if t.when == TriggerEvent::AuditWeekly
                    && !matches!(d, Destination::Webhook { .. } | Destination::Slack { .. })
                {
                    return err(
                        path.key("to").index(j),
                        format!(
                            "`{to}` is a {} destination, which takes visitors; the weekly audit goes to `webhook` and `slack` destinations",
                            d.type_name()
                        ),
                    );
                }
            }
            if t.to[..j].contains(to) {
                return err(path.key("to").index(j), format!("`{to}` is listed twice"));
            }
        }
        let key = t.key();
        if let Some(k) = keys.iter().position(|k| *k == key) {
            return err(
                path,
                format!(
                    "`triggers[{k}]` already reacts to this; list every destination in its `to`"
                ),
            );
        }
        keys.push(key);
    }
    Ok(())
}

fn check_destination(path: &FieldPath, d: &Destination, checks: Checks) -> Result<(), ConfigError> {
    match d {
        Destination::Webhook { url, secret } => {
            check_url_field(path.key("url"), url, checks)?;
            check_secret(path.key("secret"), secret, "signing secret")
        }
        Destination::Slack { url } => check_secret(path.key("url"), url, "Slack webhook URL"),
        Destination::Hubspot { token } => check_secret(path.key("token"), token, "HubSpot token"),
        Destination::Salesforce {
            instance_url,
            token,
            external_id_field,
            api_version,
        } => {
            check_url_field(path.key("instance_url"), instance_url, checks)?;
            check_secret(path.key("token"), token, "Salesforce token")?;
            let field_ok = external_id_field.len() <= 80
                && external_id_field
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && external_id_field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !field_ok {
                return err(
                    path.key("external_id_field"),
                    format!("`{external_id_field}` is not a Salesforce field name (like `Intent_Email__c`)"),
                );
            }
            let version_ok = api_version.strip_prefix('v').is_some_and(|v| {
                v.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && a.len() <= 3
                        && a.bytes().all(|c| c.is_ascii_digit())
                        && b == "0"
                })
            });
            if !version_ok {
                return err(
                    path.key("api_version"),
                    format!("`{api_version}` is not a REST API version like `v61.0`"),
                );
            }
            Ok(())
        }
        Destination::Segment { write_key, url } => {
            check_secret(path.key("write_key"), write_key, "Segment write key")?;
            check_url_field(path.key("url"), url, checks)
        }
    }
}

/// The worker secret or var an `env:NAME` reference names, if `value` is one.
pub fn env_reference(value: &str) -> Option<&str> {
    let name = value.strip_prefix("env:")?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(name)
}

fn check_secret(path: FieldPath, value: &str, what: &str) -> Result<(), ConfigError> {
    if env_reference(value).is_some() {
        return Ok(());
    }
    if let Some(name) = value.strip_prefix("env:") {
        return err(
            path,
            format!("`{name}` is not a secret's name; use capital letters, digits and `_` (`env:WEBHOOK_SECRET`)"),
        );
    }
    // The value is never echoed: it may be the secret itself.
    err(
        path,
        format!("the {what} must be a reference to a worker secret, written `env:NAME` (set it with `wrangler secret put NAME`), never the value itself in the rules"),
    )
}

fn check_url_field(path: FieldPath, value: &str, checks: Checks) -> Result<(), ConfigError> {
    if value.starts_with("env:") {
        return match env_reference(value) {
            Some(_) => Ok(()),
            None => err(
                path,
                format!("`{value}` is not a reference to a worker var; use capital letters, digits and `_` (`env:HOOK_URL`)"),
            ),
        };
    }
    check_destination_url(value, checks).map_err(|m| ConfigError::at(path, m))
}

/// Checks that a destination's URL may be called: `https`, no credentials in it, and a host on
/// the public internet; `http` to a loopback host only with
/// [`Checks::allow_loopback_destinations`]. Private (`10.0.0.1`), link-local and metadata
/// (`169.254.169.254`), shared, multicast and unspecified addresses are always refused. The
/// queue consumer calls it again before each request.
pub fn check_destination_url(value: &str, checks: Checks) -> Result<(), String> {
    let shown: String = value.chars().take(200).collect();
    let url = ::url::Url::parse(value).map_err(|e| {
        format!("`{shown}` is not a URL ({e}); write it like `https://hooks.example.com/intent`")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{shown}` carries credentials; put secrets in an `env:NAME` field, not in a URL"
        ));
    }
    let loopback = match url.host() {
        None => return Err(format!("`{shown}` has no host")),
        Some(::url::Host::Domain(d)) => {
            domain_reach(d).map_err(|why| format!("`{shown}` {why}"))?
        }
        Some(::url::Host::Ipv4(ip)) => v4_reach(ip).map_err(|why| format!("`{shown}` {why}"))?,
        Some(::url::Host::Ipv6(ip)) => v6_reach(ip).map_err(|why| format!("`{shown}` {why}"))?,
    };
    match (url.scheme(), loopback) {
        (_, true) if !checks.allow_loopback_destinations => Err(format!(
            "`{shown}` points at this machine (loopback), which only development allows (`ALLOW_LOOPBACK_DESTINATIONS`)"
        )),
        ("https", _) | ("http", true) => Ok(()),
        (scheme, _) => Err(format!(
            "`{shown}` is not https (`{scheme}:`); destinations are called over https only"
        )),
    }
}

/// Whether a host name is loopback (`Ok(true)`), public (`Ok(false)`) or refused.
fn domain_reach(domain: &str) -> Result<bool, &'static str> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    if d == "localhost" || d.ends_with(".localhost") {
        return Ok(true);
    }
    let internal = [
        "internal",
        "local",
        "localdomain",
        "lan",
        "home.arpa",
        "intranet",
    ];
    if !d.contains('.')
        || internal
            .iter()
            .any(|s| d == *s || d.ends_with(&format!(".{s}")))
    {
        return Err("is not a public host name (an internal or metadata name)");
    }
    Ok(false)
}

fn v4_reach(ip: Ipv4Addr) -> Result<bool, &'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Ok(true)
    } else if ip.is_private() {
        Err("points at a private address")
    } else if ip.is_link_local() {
        Err("points at a link-local address (where cloud metadata services answer)")
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
    {
        Err("points at an address that is not on the public internet")
    } else {
        Ok(false)
    }
}

fn v6_reach(ip: Ipv6Addr) -> Result<bool, &'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reach(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Ok(true)
    } else if first & 0xffc0 == 0xfe80 {
        Err("points at a link-local address (where cloud metadata services answer)")
    } else if first & 0xfe00 == 0xfc00 {
        Err("points at a private address")
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || first == 0x2001 && ip.segments()[1] == 0xdb8
        || first == 0x0064 && ip.segments()[1] == 0xff9b
    {
        Err("points at an address that is not on the public internet")
    } else {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::{check_destination_url, env_reference, Checks};

    const STRICT: Checks = Checks {
        allow_loopback_destinations: false,
    };
    const DEV: Checks = Checks {
        allow_loopback_destinations: true,
    };

    #[test]
    fn public_https_passes_and_the_rest_is_refused() {
        for ok in [
            "https://hooks.acme.com/intent",
            "https://api.hubapi.com",
            "https://93.184.216.34/x",
            "https://[2606:4700::1111]/",
        ] {
            assert_eq!(check_destination_url(ok, STRICT), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://hooks.acme.com/", "not https"),
            ("ftp://hooks.acme.com/", "not https"),
            ("http://10.0.0.1/", "private"),
            ("https://10.0.0.1/", "private"),
            ("https://172.16.5.4/", "private"),
            ("https://192.168.1.1/", "private"),
            ("http://169.254.169.254/", "link-local"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://[fd00::1]/", "private"),
            ("https://[::ffff:10.0.0.1]/", "private"),
            ("https://[::ffff:169.254.169.254]/", "link-local"),
            ("https://0x0a000001/", "private"),
            ("https://0.0.0.0/", "not on the public internet"),
            ("https://100.64.0.1/", "not on the public internet"),
            ("https://metadata.google.internal/", "internal"),
            ("https://metadata/", "internal"),
            ("http://127.0.0.1:9000/", "loopback"),
            ("https://localhost/", "loopback"),
            ("http://0x7f.1/", "loopback"),
            ("https://user:pw@hooks.acme.com/", "credentials"),
            ("hooks.acme.com/intent", "not a URL"),
        ] {
            let e = check_destination_url(bad, STRICT).err().unwrap_or_default();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn loopback_http_only_when_allowed() {
        for ok in [
            "http://127.0.0.1:9000/hook",
            "http://localhost:1/",
            "http://[::1]:8/",
        ] {
            assert_eq!(check_destination_url(ok, DEV), Ok(()), "{ok}");
            assert!(check_destination_url(ok, STRICT).is_err(), "{ok}");
        }
        assert!(check_destination_url("http://10.0.0.1/", DEV).is_err());
        assert!(check_destination_url("http://169.254.169.254/", DEV).is_err());
        assert!(check_destination_url("http://hooks.acme.com/", DEV).is_err());
    }

    #[test]
    fn env_references() {
        assert_eq!(env_reference("env:WEBHOOK_SECRET"), Some("WEBHOOK_SECRET"));
        assert_eq!(env_reference("env:_X1"), Some("_X1"));
        for bad in [
            "WEBHOOK_SECRET",
            "env:",
            "env:lower",
            "env:1X",
            "env:A-B",
            "whsec_abc",
        ] {
            assert_eq!(env_reference(bad), None, "{bad}");
        }
    }
}
