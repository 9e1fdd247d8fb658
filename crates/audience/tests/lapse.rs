//! Leaving audiences with no new event (the alarm), backfills when rules change, retention.
