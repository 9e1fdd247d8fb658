//! Finds the line of a field in a config's source text, so that errors found after parsing
//! (an unknown page group, a window past the horizon) still name the line a marketer edits.
//!
//! The typed config keeps no positions, so this walks the JSON text along the field's path,
//! skipping everything else. The text has already parsed, so the walk only has to be correct
//! for valid JSON; on anything unexpected it gives up and the error is reported without a line.

use super::PathSeg;

/// The 1-based line and column where the value at `path` starts (its key, for object members).
pub(crate) fn locate(src: &str, path: &[PathSeg]) -> Option<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    let mut found = pos;
    for seg in path {
        match (seg, bytes.get(pos)?) {
            (PathSeg::Key(want), b'{') => {
                pos = skip_ws(bytes, pos + 1);
                loop {
                    if *bytes.get(pos)? != b'"' {
                        return None;
                    }
                    let key_start = pos;
                    let key_end = skip_string(bytes, pos)?;
                    let key = src.get(key_start + 1..key_end - 1)?;
                    pos = skip_ws(bytes, key_end);
                    if *bytes.get(pos)? != b':' {
                        return None;
                    }
                    pos = skip_ws(bytes, pos + 1);
                    if key == want {
                        found = key_start;
                        break;
                    }
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    match bytes.get(pos)? {
                        b',' => pos = skip_ws(bytes, pos + 1),
                        _ => return None,
                    }
                }
            }
            (PathSeg::Index(want), b'[') => {
                pos = skip_ws(bytes, pos + 1);
                for _ in 0..*want {
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    match bytes.get(pos)? {
                        b',' => pos = skip_ws(bytes, pos + 1),
                        _ => return None,
                    }
                }
                found = pos;
            }
            _ => return None,
        }
    }
    let before = &src[..found];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = found - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column))
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Skips the string starting at `pos` (at its opening quote); returns the index after it.
fn skip_string(bytes: &[u8], mut pos: usize) -> Option<usize> {
    pos += 1;
    loop {
        match bytes.get(pos)? {
            b'\\' => pos += 2,
            b'"' => return Some(pos + 1),
            _ => pos += 1,
        }
    }
}

/// Skips the value starting at `pos`; returns the index after it. Iterative, so deep nesting
/// cannot overflow the stack.
fn skip_value(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match bytes.get(pos)? {
            b'"' => pos = skip_string(bytes, pos)?,
            b'{' | b'[' => {
                depth += 1;
                pos += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                pos += 1;
            }
            _ if depth == 0 => {
                // A scalar at the top: runs to the next delimiter.
                while !matches!(
                    bytes.get(pos),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    pos += 1;
                }
                return Some(pos);
            }
            _ => pos += 1,
        }
        if depth == 0 {
            return Some(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> PathSeg {
        PathSeg::Key(s.to_owned())
    }

    #[test]
    fn finds_nested_fields() {
        let src = "{\n  \"a\": 1,\n  \"tiers\": [\n    {\"name\": \"x\"},\n    {\n      \"name\": \"y\",\n      \"when\": {\"viewed\": {\"group\": \"p\"}}\n    }\n  ]\n}";
        assert_eq!(locate(src, &[k("a")]), Some((2, 3)));
        assert_eq!(locate(src, &[k("tiers"), PathSeg::Index(1)]), Some((5, 5)));
        let deep = [
            k("tiers"),
            PathSeg::Index(1),
            k("when"),
            k("viewed"),
            k("group"),
        ];
        assert_eq!(locate(src, &deep).map(|p| p.0), Some(7));
        assert_eq!(locate(src, &[k("missing")]), None);
        assert_eq!(locate(src, &[]), Some((1, 1)));
    }

    #[test]
    fn skips_strings_with_brackets_and_escapes() {
        let src = r#"{"x": "a]}\"{", "y": [1, {"z": [2]}], "w": true}"#;
        assert_eq!(locate(src, &[k("w")]), Some((1, 39)));
    }
}
