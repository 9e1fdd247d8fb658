//! Config errors that a marketer can act on: the line, the field, and what is wrong.

use std::fmt;

/// One step of a path into the config: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSeg {
    Key(String),
    Index(usize),
}

/// Where in the config something is, as `tiers[0].when.any[1].viewed.within`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<PathSeg>);

impl FieldPath {
    pub(crate) fn key(&self, key: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(PathSeg::Key(key.to_owned()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(PathSeg::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSeg::Key(k) if i == 0 => f.write_str(k)?,
                PathSeg::Key(k) => write!(f, ".{k}")?,
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A config that cannot be used, with where and why.
///
/// Displays as ``line 12, `tiers[0].when.viewed.within`: expected a duration like `7d`…``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    line: Option<usize>,
    column: Option<usize>,
    path: FieldPath,
    message: String,
}

impl ConfigError {
    pub(crate) fn at(path: FieldPath, message: String) -> Self {
        ConfigError {
            line: None,
            column: None,
            path,
            message,
        }
    }

    pub(crate) fn whole(message: String) -> Self {
        Self::at(FieldPath::default(), message)
    }

    pub(crate) fn from_json(path: FieldPath, e: serde_json::Error) -> Self {
        let text = e.to_string();
        // serde_json appends " at line L column C"; the line is reported separately.
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        ConfigError {
            line: (e.line() > 0).then_some(e.line()),
            column: (e.column() > 0).then_some(e.column()),
            path,
            message: friendlier(&message),
        }
    }

    pub(crate) fn from_serde(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = FieldPath(
            e.path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => Some(PathSeg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(PathSeg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(PathSeg::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect(),
        );
        let mut error = Self::from_json(path, e.into_inner());
        if let Some(hint) = count_hint(&error.path) {
            error.message.push_str(hint);
        }
        error
    }

    /// Fills in the line and column of the field from the config's source text.
    pub(crate) fn located(mut self, src: &str) -> Self {
        if self.line.is_none() {
            if let Some((line, column)) = super::locate::locate(src, &self.path.0) {
                self.line = Some(line);
                self.column = Some(column);
            }
        }
        self
    }

    /// The 1-based line of the config the error is on, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The 1-based column, when known.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The field, as `tiers[0].when.any[1].viewed.within`; empty for the whole config.
    pub fn field(&self) -> String {
        self.path.to_string()
    }

    /// What is wrong and what would be right.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A hint for `at_least` written inside a `utm` or `referrer` condition, which asks about one
/// visit (counting such visits is a filtered `visits` condition), and for `at_least` or
/// `within` written inside a filter of `visits` or `viewed` instead of beside it.
fn count_hint(path: &FieldPath) -> Option<&'static str> {
    let keys: Vec<&str> = path
        .0
        .iter()
        .rev()
        .take(3)
        .filter_map(|seg| match seg {
            PathSeg::Key(k) => Some(k.as_str()),
            PathSeg::Index(_) => None,
        })
        .collect();
    match keys.as_slice() {
        [field @ ("at_least" | "within"), "utm" | "referrer", "visits" | "viewed", ..] => {
            Some(if *field == "at_least" {
                "; `at_least` goes beside `utm` and `referrer`, not inside them"
            } else {
                "; `within` goes beside `utm` and `referrer`, not inside them"
            })
        }
        ["at_least", "utm", ..] | ["at_least", "referrer", ..] => Some(
            "; `utm` and `referrer` ask whether one visit landed so: to count such visits, write `{\"visits\": {\"at_least\": 2, \"utm\": {…}}}`",
        ),
        _ => None,
    }
}

/// Rewords serde's messages where a marketer would not know what they mean.
pub(crate) fn friendlier(message: &str) -> String {
    message
        .replace("unknown variant", "unknown kind")
        .replace("invalid type: ", "wrong type: ")
        .replace("expected u32", "expected a whole number")
        .replace("expected u8", "expected a whole number from 0 to 255")
        .replace("expected i32", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a map", "expected an object")
        .replace("expected a sequence", "expected a list")
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.path.to_string();
        match (self.line, field.is_empty()) {
            (Some(line), false) => write!(f, "line {line}, `{field}`: {}", self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "`{field}`: {}", self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
