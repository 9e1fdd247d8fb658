// The assertions live in the shared test case `intent_fuzz_cases::rules` (fuzz/cases).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| intent_fuzz_cases::rules(data));
