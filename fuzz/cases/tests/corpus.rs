//! Every file of the committed fuzz corpus (`fuzz/corpus/<target>/`), through the same test
//! case its fuzz target calls: the corpus, crashes found so far included, is an ordinary test on
//! stable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn run_corpus(target: &str, case: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus directory").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: an empty corpus", dir.display());
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| case(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} corpus files fail (the panics are printed above):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn token_decode() {
    run_corpus("token_decode", intent_fuzz_cases::token_decode);
}

#[test]
fn token_round_trip() {
    run_corpus("token_round_trip", intent_fuzz_cases::token_round_trip);
}

#[test]
fn rules() {
    run_corpus("rules", intent_fuzz_cases::rules);
}

#[test]
fn collect() {
    run_corpus("collect", intent_fuzz_cases::collect);
}
