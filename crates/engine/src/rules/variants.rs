//! Content variants: the safety checks every variant passes, and each slot's variants rendered
//! to JSON once, when the rules are compiled.

use super::{NamedPlan, SlotPlan};
use crate::config::{ConfigError, FieldPath, RulesConfig, ScriptsInVariants, Variant};
use crate::limits::Limits;

use super::compile::{check_name, err};

/// `"slot":{...}`: one member of an answer's `variants` object.
fn slot_json(slot: &str, variant: Option<&Variant>) -> Option<String> {
    let variant = serde_json::to_string(variant?).ok()?;
    let name = serde_json::to_string(slot).ok()?;
    Some(format!("{name}:{variant}"))
}

/// Checks every slot's variants and plans them per tier (the fallback last), with their JSON.
pub(super) fn slots(
    cfg: &RulesConfig,
    root: &FieldPath,
    tiers: &[NamedPlan],
    segments: &[NamedPlan],
) -> Result<Vec<SlotPlan>, ConfigError> {
    if cfg.variants.len() > Limits::SLOTS {
        return err(
            root.key("variants"),
            format!("{} slots; at most {}", cfg.variants.len(), Limits::SLOTS),
        );
    }
    let tier_names: Vec<&str> = tiers
        .iter()
        .map(|t| t.name.as_str())
        .chain(std::iter::once(cfg.fallback.as_str()))
        .collect();
    let segment_names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    let mut slots = Vec::new();
    for (slot, by_key) in &cfg.variants {
        let path = root.key("variants").key(slot);
        check_name(path.clone(), slot, "slot")?;
        for (key, variant) in by_key {
            let p = path.key(key);
            let is_tier = tier_names.contains(&key.as_str());
            let is_segment = segment_names.contains(&key.as_str());
            if key != "default" && !is_tier && !is_segment {
                let segments = if segment_names.is_empty() {
                    String::new()
                } else {
                    format!(", a segment ({})", segment_names.join(", "))
                };
                return err(
                    p,
                    format!(
                        "`{key}` is not a tier or a segment; use a tier ({}){segments} or `default`",
                        tier_names.join(", ")
                    ),
                );
            }
            if is_segment && (is_tier || key == "default") {
                return err(
                    p,
                    format!(
                        "`{key}` names both a segment and a tier (or `default`): rename the segment so that a variant says whose it is"
                    ),
                );
            }
            check_variant(p.clone(), variant)?;
            if cfg.scripts_in_variants == ScriptsInVariants::Refuse {
                if let Some(found) = variant.html.as_deref().and_then(script_in_html) {
                    return err(
                        p.key("html"),
                        format!(
                            "{found}: `scripts_in_variants` is `refuse`, so variants may not \
                             run scripts"
                        ),
                    );
                }
            }
        }
        let default = by_key.get("default");
        let by_tier = tier_names
            .iter()
            .map(|t| by_key.get(*t).or(default).cloned())
            .collect();
        let by_tier_json = tier_names
            .iter()
            .map(|t| slot_json(slot, by_key.get(*t).or(default)))
            .collect();
        let by_segment: Vec<Option<(Variant, String)>> = segment_names
            .iter()
            .map(|s| {
                let v = by_key.get(*s)?;
                Some((v.clone(), slot_json(slot, Some(v))?))
            })
            .collect();
        let segment_bits = by_segment
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0u64, |bits, (i, _)| bits | 1 << i);
        slots.push(SlotPlan {
            name: slot.clone(),
            default: default.cloned(),
            by_tier,
            by_tier_json,
            default_json: slot_json(slot, default),
            by_segment,
            segment_bits,
        });
    }
    Ok(slots)
}

fn check_variant(path: FieldPath, v: &Variant) -> Result<(), ConfigError> {
    let size = v.text.as_ref().map_or(0, String::len)
        + v.html.as_ref().map_or(0, String::len)
        + v.href.as_ref().map_or(0, String::len)
        + v.attrs
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > Limits::VARIANT_BYTES {
        return err(
            path,
            format!(
                "the variant is {size} bytes; at most {}",
                Limits::VARIANT_BYTES
            ),
        );
    }
    if v.text.is_some() && v.html.is_some() {
        return err(
            path,
            "give `text` or `html`, not both: both replace the element's content",
        );
    }
    if let Some(href) = &v.href {
        if unsafe_url(href) {
            return err(
                path.key("href"),
                "links must be http(s), relative, `mailto:` or `tel:` URLs",
            );
        }
    }
    for (name, value) in &v.attrs {
        let p = path.key("attrs").key(name);
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
        if !valid {
            return err(p, format!("`{name}` is not an attribute name"));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("on") {
            return err(p, "event-handler attributes (`on…`) are not allowed; scripts do not belong in variants");
        }
        if matches!(lower.as_str(), "href" | "src" | "action" | "formaction") && unsafe_url(value) {
            return err(
                p,
                "links must be http(s), relative, `mailto:` or `tel:` URLs",
            );
        }
    }
    Ok(())
}

fn unsafe_url(url: &str) -> bool {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("javascript:") || lower.starts_with("data:") || lower.starts_with("vbscript:")
}

/// What in `html` could run a script, if anything: a `<script>` element, an `on…` event-handler
/// attribute, or a `javascript:` / `vbscript:` URL. Deliberately wider than a browser: character
/// references are decoded and whitespace and control characters dropped first (browsers
/// ignore them inside a URL's scheme), and any such text counts, in an attribute or not, so
/// that what passes runs no script under any reading. Used only when the config refuses
/// scripts in variants.
pub(crate) fn script_in_html(html: &str) -> Option<&'static str> {
    let plain = decode_references(html).to_ascii_lowercase();
    let squeezed: String = plain
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    if squeezed.contains("<script") {
        return Some("a `<script>` element");
    }
    if squeezed.contains("javascript:") || squeezed.contains("vbscript:") {
        return Some("a `javascript:` URL");
    }
    if has_event_attribute(&plain) {
        return Some("an event-handler attribute (`on…`)");
    }
    None
}

/// True when a tag in `html` (lower-case) has an attribute named `on…`: `on` and letters,
/// after whitespace, `/` or a quote, then `=` (or the tag's end: a bare attribute).
fn has_event_attribute(html: &str) -> bool {
    let b = html.as_bytes();
    let mut in_tag = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' => in_tag = b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()),
            b'>' => in_tag = false,
            c if in_tag
                && (c.is_ascii_whitespace() || matches!(c, b'/' | b'"' | b'\''))
                && b[i + 1..].starts_with(b"on") =>
            {
                let name_end = b[i + 3..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric() && *c != b'-' && *c != b'_')
                    .map_or(b.len(), |n| i + 3 + n);
                if name_end > i + 3 {
                    let rest = b[name_end..].iter().find(|c| !c.is_ascii_whitespace());
                    if matches!(rest, None | Some(b'=') | Some(b'>') | Some(b'/')) {
                        return true;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// `html` with its numeric character references (`&#106;`, `&#x6A;`) and the named ones that
/// can spell a scheme (`&colon;`, `&Tab;`, `&NewLine;`) decoded; others are left as written.
fn decode_references(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map_or(rest.len(), |n| n + 1);
        let name = &rest[1..end];
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.and_then(char::from_u32)
        } else {
            match name {
                "colon" => Some(':'),
                "Tab" => Some('\t'),
                "NewLine" => Some('\n'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                // The `;` is optional in HTML for these.
                rest = rest[end..].strip_prefix(';').unwrap_or(&rest[end..]);
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::script_in_html;
    use crate::Rules;

    /// Issue 20, item 10: `html` variants with `<script>`, `on…` or `javascript:` validate, by
    /// design; a team that wants them refused says `"scripts_in_variants": "refuse"`.
    #[test]
    fn issue_20_10_scripts_in_variants_are_refused_when_the_config_says_so() {
        let mut cfg: serde_json::Value =
            serde_json::from_str(include_str!("../default_rules.json")).unwrap();
        cfg["variants"]["hero"]["ready"]["html"] = "<h1>Hi</h1><script>track()</script>".into();
        assert!(
            Rules::from_json(&cfg.to_string()).is_ok(),
            "allowed by default"
        );
        cfg["scripts_in_variants"] = "refuse".into();
        let err = Rules::from_json(&serde_json::to_string_pretty(&cfg).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`variants.hero.ready.html`: a `<script>` element: `scripts_in_variants` is `refuse`"),
            "{err}"
        );
        cfg["variants"]["hero"]["ready"]["html"] = "<h1>Hi</h1>".into();
        assert!(Rules::from_json(&cfg.to_string()).is_ok());
        cfg["scripts_in_variants"] = "sometimes".into();
        assert!(Rules::from_json(&cfg.to_string()).is_err());
    }

    #[test]
    fn scripts_are_found_however_they_are_written() {
        for html in [
            "<script>alert(1)</script>",
            "<SCRIPT src=x></SCRIPT>",
            "< script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"#\" onclick=\"go()\">x</a>",
            "<a href=\"#\"onclick=\"go()\">x</a>",
            "<div/onmouseover='x'>",
            "<svg onload>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\"java\tscript:x\">x</a>",
            "<a href=\"&#106;avascript:x\">x</a>",
            "<a href=\"&#x6A;avascript&colon;x\">x</a>",
            "<a href=\"vbscript:x\">x</a>",
        ] {
            assert!(script_in_html(html).is_some(), "{html}");
        }
        for html in [
            "<h1>Book a demo</h1><p>Online in two weeks</p>",
            "<a href=\"/pricing\" title=\"once a month\">Plans</a>",
            "<p>Questions? Talk to us on the phone.</p>",
            "<img src=\"/x.png\" alt=\"onboarding\">",
            "<p>Tom &amp; Jerry</p>",
        ] {
            assert_eq!(script_in_html(html), None, "{html}");
        }
    }
}
