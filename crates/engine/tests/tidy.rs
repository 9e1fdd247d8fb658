//! The engine's modules depend one way: each module of `src/` may use only the modules listed
//! before it in [`LAYERS`], so the module graph has no cycles. (ARCHITECTURE.md describes the
//! same order.)

use std::fs;
use std::path::Path;

/// The engine's top-level modules, lowest first.
const LAYERS: &[&str] = &[
    // Leaves: limits, time values, `*` patterns, URL reading, email addresses and accounts.
    "limits", "time", "pattern", "url", "identity",
    // The rules config as the marketer writes it, the events as they arrive, and what the
    // event log keeps of them.
    "config", "event", "sanitize",
    // What a profile keeps (its shape), the profile, carrying it across shapes, its token.
    "shape", "profile", "carry", "token",
    // The compiled rules, and everything that needs them.
    "rules", "open", "fold", "decide", "lapse", "explain", "simulate",
    // Which triggers audience changes fire, and which a log would have fired.
    "triggers",
    // Replaying a stored log under any rules: the console's preview and the audit.
    "replay", "preview", "audit",
];

/// `crate::<module>` paths in the code of a file (not in comments, not in its tests).
fn uses(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if LAYERS.contains(&name.as_str()) && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let mut wrong = Vec::new();
    let mut seen = Vec::new();
    for path in &paths {
        let rel = path.strip_prefix(&src).expect("under src/");
        let Some(first) = rel.components().next() else {
            continue;
        };
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let Some(level) = LAYERS.iter().position(|m| *m == module) else {
            wrong.push(format!(
                "{}: the module `{module}` is not in LAYERS",
                rel.display()
            ));
            continue;
        };
        seen.push(module.clone());
        let text = fs::read_to_string(path).expect("a readable source file");
        for used in uses(&text) {
            let at = LAYERS.iter().position(|m| *m == used).unwrap_or(usize::MAX);
            if used != module && at >= level {
                wrong.push(format!(
                    "{}: `{module}` uses `{used}`, which comes after it",
                    rel.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for module in LAYERS {
        assert!(
            seen.iter().any(|m| m == module),
            "no source for the module `{module}`"
        );
    }
}
