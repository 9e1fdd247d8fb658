//! Who is not tracked: visitors who ask not to be (Global Privacy Control, Do Not Track) and
//! crawlers. For them nothing is recorded, no token is stored and the default variants show.

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
    if user_agent.is_some_and(is_bot) {
        return Some(NotTracked::Bot);
    }
    None
}

/// Substrings (lower-case) of crawler and preview-fetcher user agents. Generic words catch the
/// long tail (`...bot/1.0`, `crawler`, `spider`); named ones catch those without them.
const BOT_MARKERS: &[&str] = &[
    "bot/",
    "bot;",
    "bot)",
    "bot ",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "mediapartners-google",
    "adsbot-google",
    "google-inspectiontool",
    "bingpreview",
    "yandex",
    "baiduspider",
    "bytespider",
    "petalbot",
    "headlesschrome/ lighthouse",
    "chrome-lighthouse",
    "embedly",
    "quora link preview",
    "whatsapp",
    "skypeuripreview",
    "slackbot",
    "discordbot",
    "telegrambot",
];

/// True when the user agent is a known crawler.
pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ua.ends_with("bot") || BOT_MARKERS.iter().any(|m| ua.contains(m))
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

    #[test]
    fn crawlers() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Twitterbot/1.0",
        ] {
            assert!(is_bot(ua), "{ua}");
        }
        assert!(!is_bot(CHROME));
        assert!(!is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"));
        assert!(!is_bot("node"));
        assert!(!is_bot("curl/8.5.0"));
    }
}
