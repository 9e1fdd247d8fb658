//! Visible time and scroll depth of the current page view.

/// Longest stretch between two clock readings that still counts as visible time. The heartbeat
/// reads the clock every [`HEARTBEAT_MS`]; a longer gap means the page was frozen (a sleeping
/// laptop, a throttled background tab), and that time was not spent reading.
pub(crate) const MAX_SPAN_MS: f64 = 2.0 * HEARTBEAT_MS as f64;

/// How often the heartbeat reads the clock while the page is open.
pub(crate) const HEARTBEAT_MS: u32 = 1_000;

/// Engagement of one page view, reported as deltas: each report carries the visible seconds
/// since the previous one (the engine sums them) and the deepest scroll so far.
#[derive(Debug, Default)]
pub(crate) struct Engagement {
    /// Visible milliseconds not yet reported.
    unreported_ms: f64,
    /// When the page last became visible or was last measured, while it is visible.
    mark: Option<f64>,
    scroll: u32,
    reported_scroll: u32,
}

impl Engagement {
    pub(crate) fn new(now: f64, visible: bool) -> Engagement {
        Engagement {
            mark: visible.then_some(now),
            ..Engagement::default()
        }
    }

    /// Reads the clock: counts the time since the last reading if the page was visible.
    pub(crate) fn tick(&mut self, now: f64, visible: bool) {
        if let Some(mark) = self.mark {
            self.unreported_ms += (now - mark).clamp(0.0, MAX_SPAN_MS);
        }
        self.mark = visible.then_some(now);
    }

    /// Notes a scroll position, in percent of the page.
    pub(crate) fn scrolled(&mut self, percent: u32) {
        self.scroll = self.scroll.max(percent.min(100));
    }

    /// The report due now, as `(seconds, scroll)`, or `None` if nothing changed since the last.
    /// Fractions of a second stay for the next report.
    pub(crate) fn report(&mut self, now: f64, visible: bool) -> Option<(u32, u32)> {
        self.tick(now, visible);
        let seconds = (self.unreported_ms / 1000.0) as u32;
        if seconds == 0 && self.scroll == self.reported_scroll {
            return None;
        }
        self.unreported_ms -= f64::from(seconds) * 1000.0;
        self.reported_scroll = self.scroll;
        Some((seconds, self.scroll))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the clock once a second from `from` to `to` (ms), as the heartbeat does.
    fn beat(e: &mut Engagement, from: u32, to: u32, visible: bool) {
        for ms in (from..=to).step_by(1000) {
            e.tick(f64::from(ms), visible);
        }
    }

    #[test]
    fn counts_visible_time_only() {
        let mut e = Engagement::new(0.0, true);
        beat(&mut e, 1_000, 4_000, true);
        e.tick(4_000.0, false); // hidden at 4 s
        beat(&mut e, 5_000, 59_000, false);
        e.tick(60_000.0, true); // visible again at 60 s: the hidden time does not count
        beat(&mut e, 61_000, 63_000, true);
        assert_eq!(e.report(63_500.0, true), Some((7, 0)));
        // The half second left over is carried into the next report.
        assert_eq!(e.report(64_000.0, true), Some((1, 0)));
        assert_eq!(e.report(64_100.0, true), None);
    }

    #[test]
    fn ignores_frozen_stretches() {
        // A laptop asleep for an hour with the page open: no heartbeat, so no time counts
        // beyond the longest span.
        let mut e = Engagement::new(0.0, true);
        e.tick(3_600_000.0, true);
        assert_eq!(e.report(3_600_000.0, true), Some((2, 0)));
    }

    #[test]
    fn reports_scroll_changes_and_keeps_the_deepest() {
        let mut e = Engagement::new(0.0, false);
        assert_eq!(e.report(1.0, false), None);
        e.scrolled(40);
        e.scrolled(20);
        assert_eq!(e.report(2.0, false), Some((0, 40)));
        assert_eq!(e.report(3.0, false), None);
        e.scrolled(250);
        assert_eq!(e.report(4.0, false), Some((0, 100)));
    }
}
