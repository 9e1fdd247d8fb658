//! Content variants: the safety checks every variant passes, and each slot's variants rendered
//! to JSON once, when the rules are compiled.

use super::{NamedPlan, SlotPlan};
use crate::config::{ConfigError, FieldPath, RulesConfig, Variant};
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
    let mut slots = Vec::new();
    for (slot, by_key) in &cfg.variants {
        let path = root.key("variants").key(slot);
        check_name(path.clone(), slot, "slot")?;
        for (key, variant) in by_key {
            let p = path.key(key);
            if key != "default" && !tier_names.contains(&key.as_str()) {
                return err(
                    p,
                    format!(
                        "`{key}` is not a tier; use one of {} or `default`",
                        tier_names.join(", ")
                    ),
                );
            }
            check_variant(p, variant)?;
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
        slots.push(SlotPlan {
            name: slot.clone(),
            default: default.cloned(),
            by_tier,
            by_tier_json,
            default_json: slot_json(slot, default),
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
