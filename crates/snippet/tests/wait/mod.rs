//! Waiting for a condition in the browser tests, with a deadline, instead of a fixed sleep.

#![allow(dead_code)]

/// Polls `condition` every 10 ms until it holds (answers, promise callbacks and the heartbeat
/// run meanwhile); fails naming `what` after 5 seconds.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = js_sys::Date::now() + 5_000.0;
    while !condition() {
        assert!(
            js_sys::Date::now() < deadline,
            "timed out waiting for {what}"
        );
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
}
