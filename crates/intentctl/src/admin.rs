//! The commands that talk to the worker's rules admin API: `publish`, `history`, `rollback`.
//!
//! Every change is conditional: the command reads the active version first and sends it back in
//! `If-Match`, so a publish or rollback never silently replaces a version someone else published
//! in between (the worker answers 412 and says what changed).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use intent_engine::{Checks, Rules};
use serde_json::Value;

use crate::read_input;

/// Where the worker is and how to sign in to its admin API.
#[derive(clap::Args)]
pub(crate) struct Worker {
    /// The worker's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8787", env = "INTENT_URL")]
    url: String,
    /// The admin API's bearer token: the value of the worker's `ADMIN_TOKEN` secret.
    #[arg(long, env = "INTENT_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
}

/// An answer of the admin API: its status, `ETag`, rules id and body.
struct Answer {
    status: u16,
    etag: Option<String>,
    rules_id: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The error's message, or the body as it is.
    fn message(&self) -> String {
        match self.json()["message"].as_str() {
            Some(m) => m.to_owned(),
            None => self.body.clone(),
        }
    }
}

impl Worker {
    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    /// Sends one request; a status of 400 and above is an answer too, only a network failure
    /// is an error.
    fn send(
        &self,
        method: &str,
        path: &str,
        if_match: Option<&str>,
        body: Option<&str>,
    ) -> Result<Answer> {
        let endpoint = self.endpoint(path);
        let mut request = ureq::request(method, &endpoint)
            .set("Authorization", &format!("Bearer {}", self.token));
        if let Some(tag) = if_match {
            request = request.set("If-Match", tag);
        }
        let response = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(body),
            None => request.call(),
        };
        let response = match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => bail!("could not reach {endpoint}: {e}"),
        };
        Ok(Answer {
            status: response.status(),
            etag: response.header("etag").map(str::to_owned),
            rules_id: response.header("x-intent-rules").map(str::to_owned),
            body: response.into_string().unwrap_or_default(),
        })
    }

    /// The active rules: their text, `ETag` and id. An error answer is reported and `None`.
    fn active(&self) -> Result<Option<Answer>> {
        let answer = self.send("GET", "/v1/admin/rules", None, None)?;
        if answer.status != 200 {
            eprintln!(
                "{} refused to answer the active rules ({}): {}",
                self.endpoint("/v1/admin/rules"),
                answer.status,
                answer.message()
            );
            return Ok(None);
        }
        Ok(Some(answer))
    }
}

/// A version as `If-Match` carries it: an entity tag in quotes. An id given bare is quoted.
fn entity_tag(version: &str) -> String {
    let v = version.trim();
    if v.starts_with('"') || v.starts_with("W/") || v == "*" {
        v.to_owned()
    } else {
        format!("\"{v}\"")
    }
}

/// Prints what a 412 answer says changed since the version the command started from.
fn report_conflict(answer: &Answer) {
    eprintln!("not changed: {}", answer.message());
    if let Some(list) = answer.json()["meanwhile"].as_array() {
        if !list.is_empty() {
            eprintln!("published meanwhile, newest first:");
        }
        for v in list {
            eprintln!(
                "  {}  {}  {}",
                v["id"].as_str().unwrap_or("?"),
                v["activated_at"].as_str().unwrap_or("?"),
                v["summary"].as_str().unwrap_or("")
            );
        }
    }
}

/// `intentctl publish FILE`.
pub(crate) fn publish(file: &Path, worker: &Worker, if_match: Option<&str>) -> Result<ExitCode> {
    let text = read_input(file)?;
    // Whether loopback destinations are allowed is the worker's to say (its
    // `ALLOW_LOOPBACK_DESTINATIONS`); every other check is made here before sending.
    let lenient = Checks {
        allow_loopback_destinations: true,
    };
    let rules = match Rules::from_json_with(&text, lenient) {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            eprintln!("not published");
            return Ok(ExitCode::from(1));
        }
    };
    let Some(active) = worker.active()? else {
        eprintln!("not published");
        return Ok(ExitCode::from(1));
    };
    let current = active.rules_id.as_deref().unwrap_or("?");
    match Rules::from_json_with(&active.body, lenient) {
        Ok(old) => println!(
            "publishing {} (rules {}) over {current}; visitors' profiles: {}",
            file.display(),
            rules.id(),
            rules.change_from(&old)
        ),
        Err(_) => println!(
            "publishing {} (rules {}) over {current}",
            file.display(),
            rules.id()
        ),
    }
    let tag = match if_match {
        Some(version) => Some(entity_tag(version)),
        None => active.etag.clone(),
    };
    let answer = worker.send("PUT", "/v1/admin/rules", tag.as_deref(), Some(&text))?;
    match answer.status {
        200 => {
            let json = answer.json();
            let id = json["id"].as_str().unwrap_or("?");
            match json["previous"].as_str() {
                Some(previous) => println!(
                    "published {} as {id} to {}, replacing {previous}",
                    file.display(),
                    worker.endpoint("/v1/admin/rules")
                ),
                None => println!(
                    "published {} as {id} to {}: it was already the active version",
                    file.display(),
                    worker.endpoint("/v1/admin/rules")
                ),
            }
            if let Some(summary) = json["profiles"]["summary"].as_str() {
                println!("visitors' profiles: {summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        412 => {
            report_conflict(&answer);
            eprintln!("not published: check your file against the active rules (`intentctl validate {} --against <them>`) and publish again", file.display());
            Ok(ExitCode::from(1))
        }
        code => {
            eprintln!(
                "{} refused the rules ({code}): {}",
                worker.endpoint("/v1/admin/rules"),
                answer.body
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// `intentctl history`.
pub(crate) fn history(worker: &Worker, json: bool) -> Result<ExitCode> {
    let answer = worker.send("GET", "/v1/admin/rules/history", None, None)?;
    if answer.status != 200 {
        eprintln!(
            "{} refused to answer ({}): {}",
            worker.endpoint("/v1/admin/rules/history"),
            answer.status,
            answer.message()
        );
        return Ok(ExitCode::from(1));
    }
    let doc = answer.json();
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let versions = doc["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        println!(
            "no version published through the admin API yet; active: {}",
            doc["active"].as_str().unwrap_or("?")
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("published versions, newest first (* active):");
    for v in &versions {
        let mark = if v["active"].as_bool() == Some(true) {
            "*"
        } else {
            " "
        };
        println!(
            "{mark} {}  published {}{}",
            v["id"].as_str().unwrap_or("?"),
            v["published_at"].as_str().unwrap_or("?"),
            match v["activated_at"].as_str() {
                Some(at) if Some(at) != v["published_at"].as_str() =>
                    format!(", active again {at}"),
                _ => String::new(),
            }
        );
        if let Some(summary) = v["summary"].as_str() {
            println!("    {summary}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `intentctl rollback [ID]`.
pub(crate) fn rollback(worker: &Worker, id: Option<&str>) -> Result<ExitCode> {
    let Some(active) = worker.active()? else {
        eprintln!("nothing was rolled back");
        return Ok(ExitCode::from(1));
    };
    let body = id.map(|id| serde_json::json!({ "to": id }).to_string());
    let answer = worker.send(
        "POST",
        "/v1/admin/rules/rollback",
        active.etag.as_deref(),
        body.as_deref(),
    )?;
    match answer.status {
        200 => {
            let json = answer.json();
            println!(
                "rolled back to {}, replacing {}",
                json["id"].as_str().unwrap_or("?"),
                json["previous"].as_str().unwrap_or("?")
            );
            if let Some(summary) = json["profiles"]["summary"].as_str() {
                println!("visitors' profiles: {summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        412 => {
            report_conflict(&answer);
            eprintln!("nothing was rolled back: look at `intentctl history` and try again");
            Ok(ExitCode::from(1))
        }
        code => {
            eprintln!(
                "{} refused the rollback ({code}): {}",
                worker.endpoint("/v1/admin/rules/rollback"),
                answer.message()
            );
            Ok(ExitCode::from(1))
        }
    }
}
