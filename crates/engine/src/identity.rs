//! Who a visitor says they are: the email address of an `identify` event, and the account (the
//! company) it points to.
//!
//! An address is accepted when it is what a browser's `<input type="email">` accepts (the
//! WHATWG definition of a valid email address), with a dot in its domain: the demo's form and
//! the engine then agree on what is an address. It is normalised to lower case and trimmed;
//! nothing else is rewritten (no removal of `+tags` or dots: those may be different people).
//!
//! The account is the address's domain, except for free-mail and disposable domains
//! (`gmail.com`, `proton.me`, `mailinator.com`, …), which name no company. That list is
//! `data/free-mail-domains.txt`: the npm package `free-email-domains` (MIT, see
//! `data/free-mail-domains.LICENSE.md`), which merges HubSpot's list of free email domains with
//! the maintained disposable-email blocklists; `scripts/update-free-mail.sh` refreshes it.

use std::fmt;
use std::sync::OnceLock;

/// The trait of an `identify` event that names the visitor's company by its web domain.
pub const COMPANY_DOMAIN: &str = "company_domain";

/// Longest email address, in bytes (RFC 5321's limit on a forward path, less its brackets).
const EMAIL_BYTES: usize = 254;
/// Longest local part (before the `@`), in bytes.
const LOCAL_BYTES: usize = 64;
/// Longest domain name, in bytes.
const DOMAIN_BYTES: usize = 253;
/// Longest label of a domain name, in bytes.
const LABEL_BYTES: usize = 63;

static FREE_MAIL: &str = include_str!("../data/free-mail-domains.txt");

/// An email address or domain that cannot be used; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError(String);

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IdentityError {}

/// A checked, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Checks and normalises an address: trimmed, lower-cased, `local@domain` with the
    /// characters a browser's email field accepts and a dot in the domain.
    pub fn parse(input: &str) -> Result<Email, IdentityError> {
        let shown: String = input.chars().take(64).collect();
        let bad = |why: &str| {
            Err(IdentityError(format!(
                "`{shown}` is not an email address: {why}"
            )))
        };
        let email = input.trim().to_ascii_lowercase();
        if email.is_empty() {
            return Err(IdentityError("the email address is empty".to_owned()));
        }
        if email.len() > EMAIL_BYTES {
            return bad(&format!("longer than {EMAIL_BYTES} bytes"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return bad("no `@`");
        };
        if local.is_empty() || local.len() > LOCAL_BYTES {
            return bad(&format!(
                "the part before `@` must be 1 to {LOCAL_BYTES} bytes"
            ));
        }
        let local_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        if !local_ok {
            return bad("the part before `@` has a character an email field does not accept");
        }
        if let Err(why) = check_domain(domain) {
            return bad(&why);
        }
        Ok(Email(email))
    }

    /// The address, normalised.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The account (company) this address points to: its domain, or `None` for a free-mail or
    /// disposable domain.
    pub fn account(&self) -> Option<&str> {
        let domain = self.domain();
        (!is_free_mail(domain)).then_some(domain)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a domain name (already lower-cased): labels of letters, digits and inner hyphens, at
/// least two of them, the last not all digits (so not an IP address).
fn check_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() || domain.len() > DOMAIN_BYTES {
        return Err(format!("the domain must be 1 to {DOMAIN_BYTES} bytes"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain has no dot".to_owned());
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= LABEL_BYTES
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!("`{label}` is not a domain label"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the domain ends in a number".to_owned());
    }
    Ok(())
}

/// Reads a company's web domain as a form may give it (`acme.com`, `www.Acme.com`,
/// `https://acme.com/about`) and returns it normalised (`acme.com`).
pub fn company_domain(input: &str) -> Result<String, IdentityError> {
    let shown: String = input.chars().take(64).collect();
    let mut d = input.trim().to_ascii_lowercase();
    if let Some(i) = d.find("://") {
        d.drain(..i + 3);
    }
    if let Some(end) = d.find(['/', '?', '#']) {
        d.truncate(end);
    }
    let d = d.strip_suffix('.').unwrap_or(&d);
    let d = d.strip_prefix("www.").unwrap_or(d);
    check_domain(d)
        .map(|()| d.to_owned())
        .map_err(|why| IdentityError(format!("`{shown}` is not a company domain: {why}")))
}

/// Whether `domain` (lower case) is a free-mail or disposable email domain.
pub fn is_free_mail(domain: &str) -> bool {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| FREE_MAIL.lines().filter(|l| !l.is_empty()).collect())
        .binary_search(&domain)
        .is_ok()
}

/// The account of a visitor who identified with `email` and `company_domain` (an identify
/// event's `traits.company_domain`): the company domain when one was given and is not a
/// free-mail domain, else the email's domain unless it is a free-mail domain.
pub fn account_of(email: Option<&Email>, company_domain: Option<&str>) -> Option<String> {
    company_domain
        .and_then(|d| self::company_domain(d).ok())
        .filter(|d| !is_free_mail(d))
        .or_else(|| email.and_then(Email::account).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_normalised() {
        let e = Email::parse("  Jane.Doe+News@ACME.com ").unwrap();
        assert_eq!(e.as_str(), "jane.doe+news@acme.com");
        assert_eq!(e.domain(), "acme.com");
        assert_eq!(e.account(), Some("acme.com"));
        for (bad, why) in [
            ("", "empty"),
            ("jane", "no `@`"),
            ("@acme.com", "before `@`"),
            ("jane@", "domain"),
            ("jane@localhost", "no dot"),
            ("jane@acme..com", "not a domain label"),
            ("jane@-acme.com", "not a domain label"),
            ("jane@10.0.0.1", "ends in a number"),
            ("ja ne@acme.com", "character"),
            ("\"jane\"@acme.com", "character"),
            ("jané@acme.com", "character"),
            ("jane@acmé.com", "not a domain label"),
        ] {
            let err = Email::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("{}@acme.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn free_mail_names_no_account() {
        for free in [
            "gmail.com",
            "googlemail.com",
            "yahoo.com",
            "outlook.com",
            "hotmail.com",
            "icloud.com",
            "proton.me",
            "gmx.de",
            "mailinator.com",
        ] {
            assert!(is_free_mail(free), "{free}");
            let e = Email::parse(&format!("jane@{free}")).unwrap();
            assert_eq!(e.account(), None, "{free}");
        }
        assert!(!is_free_mail("acme.com"));
        assert!(!is_free_mail("mail.acme.com"));
        // The list is sorted as binary search needs, without duplicates.
        let lines: Vec<&str> = FREE_MAIL.lines().collect();
        assert!(lines.len() > 10_000);
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn company_domains_and_accounts() {
        assert_eq!(
            company_domain("https://www.Acme.com/about").unwrap(),
            "acme.com"
        );
        assert_eq!(company_domain("acme.co.uk.").unwrap(), "acme.co.uk");
        assert!(company_domain("not a domain").is_err());
        let gmail = Email::parse("jane@gmail.com").unwrap();
        let acme = Email::parse("jane@acme.com").unwrap();
        assert_eq!(account_of(Some(&acme), None).as_deref(), Some("acme.com"));
        assert_eq!(account_of(Some(&gmail), None), None);
        assert_eq!(
            account_of(Some(&gmail), Some("initech.com")).as_deref(),
            Some("initech.com")
        );
        assert_eq!(
            account_of(Some(&acme), Some("gmail.com")).as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            account_of(None, Some("www.initech.com")).as_deref(),
            Some("initech.com")
        );
        assert_eq!(account_of(None, None), None);
    }
}
