//! Time windows as marketers write them: `30m`, `12h`, `7d`, `2w`.

use std::fmt;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A span of time, written `<number><unit>` with unit `m` (minutes), `h`, `d` or `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    secs: u64,
    unit: char,
}

impl Window {
    /// The default horizon: 90 days.
    pub fn default_horizon() -> Window {
        Window {
            secs: 90 * 86_400,
            unit: 'd',
        }
    }

    /// A window of whole days.
    pub fn days(days: u64) -> Window {
        Window {
            secs: days.saturating_mul(86_400),
            unit: 'd',
        }
    }

    /// The span in seconds.
    pub fn secs(self) -> u64 {
        self.secs
    }

    /// Reads `7d`, `12h`, `30m`, `2w`.
    pub fn parse(s: &str) -> Result<Window, String> {
        let err = || format!("expected a duration like `7d`, `12h` or `30m`, found `{s}`");
        let unit = s.chars().last().ok_or_else(err)?;
        let per = match unit {
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(err()),
        };
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u64 = digits.parse().map_err(|_| err())?;
        if n == 0 {
            return Err(format!("a window must be longer than zero, found `{s}`"));
        }
        Ok(Window {
            secs: n * per,
            unit,
        })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = match self.unit {
            'm' => 60,
            'h' => 3_600,
            'w' => 7 * 86_400,
            _ => 86_400,
        };
        write!(f, "{}{}", self.secs / per, self.unit)
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Window;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like `7d`, `12h` or `30m`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Window, E> {
                Window::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Window {
    fn schema_name() -> String {
        "Window".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            ..Default::default()
        };
        schema.string().pattern = Some("^[1-9][0-9]{0,5}[mhdw]$".to_owned());
        schema.metadata().description =
            Some("A span of time: a number and a unit, m, h, d or w (`7d`, `12h`).".to_owned());
        schema.into()
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn reads_and_prints() {
        assert_eq!(Window::parse("7d").map(Window::secs), Ok(604_800));
        assert_eq!(
            Window::parse("2w").map(|w| w.to_string()),
            Ok("2w".to_owned())
        );
        assert_eq!(Window::parse("30m").map(Window::secs), Ok(1_800));
        assert!(Window::parse("7").is_err());
        assert!(Window::parse("d").is_err());
        assert!(Window::parse("0d").is_err());
        assert!(Window::parse("7x").is_err());
        assert!(Window::parse("-1d").is_err());
        assert!(Window::parse("9999999d").is_err());
    }
}
