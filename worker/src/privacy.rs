//! Who is not tracked: visitors who ask not to be (Global Privacy Control, Do Not Track) and
//! crawlers. For them nothing is recorded, no token is stored and the default variants show.
//!
//! The crawler rule is `intent_policy`'s, the one the snippet applies in the browser.

/// Why a request is not tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTracked {
    /// `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// `DNT: 1`.
    DoNotTrack,
    /// A known crawler's user agent.
    Bot,
}

impl NotTracked {
    /// Short label for the `X-Intent-Tracking` response header.
    pub fn label(self) -> &'static str {
        match self {
            Self::GlobalPrivacyControl => "off; gpc",
            Self::DoNotTrack => "off; dnt",
            Self::Bot => "off; bot",
        }
    }
}

/// Decides from the request headers whether the visitor may be tracked.
pub fn not_tracked(
    sec_gpc: Option<&str>,
    dnt: Option<&str>,
    user_agent: Option<&str>,
) -> Option<NotTracked> {
    if sec_gpc.is_some_and(|v| v.trim() == "1") {
        return Some(NotTracked::GlobalPrivacyControl);
    }
    if dnt.is_some_and(|v| v.trim() == "1") {
        return Some(NotTracked::DoNotTrack);
    }
    if user_agent.is_some_and(intent_policy::is_crawler) {
        return Some(NotTracked::Bot);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

    #[test]
    fn privacy_signals() {
        assert_eq!(
            not_tracked(Some("1"), None, Some(CHROME)),
            Some(NotTracked::GlobalPrivacyControl)
        );
        assert_eq!(
            not_tracked(None, Some("1"), Some(CHROME)),
            Some(NotTracked::DoNotTrack)
        );
        assert_eq!(not_tracked(Some("0"), Some("0"), Some(CHROME)), None);
        assert_eq!(not_tracked(None, None, None), None);
    }

    /// The shared vectors, as the worker reads them (the snippet runs them in a browser).
    #[test]
    fn crawlers() {
        for (ua, crawler) in intent_policy::CRAWLER_CASES {
            let want = crawler.then_some(NotTracked::Bot);
            assert_eq!(not_tracked(None, None, Some(ua)), want, "{ua}");
        }
    }
}
