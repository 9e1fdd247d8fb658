//! Prints a rules config as JSON Logic for the benchmark's JavaScript peers.
//!
//! ```text
//! rules-to-jsonlogic                       the built-in default rules
//! rules-to-jsonlogic RULES.json            a config file
//! rules-to-jsonlogic --fifty RULES_OUT     the generated 50-rule config, also written to RULES_OUT
//! ```
//!
//! The document also carries the rules' id and the largest token they can produce.

use std::process::ExitCode;

use intent_engine::Rules;

fn rules_from_args() -> Result<Rules, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(Rules::builtin().clone()),
        [flag, out] if flag == "--fifty" => {
            let text = intent_bench_wasm::fifty_rules_json();
            std::fs::write(out, &text).map_err(|e| format!("{out}: {e}"))?;
            Rules::from_json(&text).map_err(|e| format!("the generated 50-rule config: {e}"))
        }
        [path] => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            Rules::from_json(&text).map_err(|e| format!("{path}: {e}"))
        }
        _ => Err("usage: rules-to-jsonlogic [RULES.json | --fifty RULES_OUT]".to_owned()),
    }
}

fn run() -> Result<String, String> {
    let rules = rules_from_args()?;
    let mut doc = intent_bench_wasm::jsonlogic::convert(rules.config())?.document;
    doc["rules_id"] = rules.id().into();
    doc["max_token_bytes"] = rules.max_token_bytes().into();
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rules-to-jsonlogic: {e}");
            ExitCode::FAILURE
        }
    }
}
