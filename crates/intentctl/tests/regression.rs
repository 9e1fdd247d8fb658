//! One test per defect found in `intentctl`, named after the issue and item that reported it.
//! (The worker's side of the same defects: `tests/worker/regression.test.mjs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

use super::cli::{intentctl, root, text};

/// One request the fake admin API received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    if_match: Option<String>,
    body: String,
}

/// A stand-in for the worker's admin API on a free port: answers each request with `answer`
/// (status, extra headers, body) and records what it received.
struct FakeAdmin {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Responder = fn(&Seen) -> (u16, Vec<(&'static str, String)>, String);

impl FakeAdmin {
    fn start(answer: Responder) -> FakeAdmin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(request) = read_request(&stream) {
                    let (status, headers, body) = answer(&request);
                    log.lock().expect("the log").push(request);
                    respond(stream, status, &headers, &body);
                }
            }
        });
        FakeAdmin { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("the log").clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut if_match) = (0usize, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "if-match" => if_match = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        if_match,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(mut stream: TcpStream, status: u16, headers: &[(&str, String)], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
}

/// The fake's answer to `GET /v1/admin/rules`: the default rules, version `default@1c63f927`.
fn active_defaults() -> (u16, Vec<(&'static str, String)>, String) {
    (
        200,
        vec![
            ("etag", "\"default@1c63f927\"".to_owned()),
            ("x-intent-rules", "default@1c63f927".to_owned()),
        ],
        intent_engine::Rules::builtin_json().to_owned(),
    )
}

fn with_worker(args: &[&str], url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_intentctl"))
        .args(args)
        .current_dir(root())
        .env("INTENT_URL", url)
        .env("INTENT_ADMIN_TOKEN", "a-token-for-the-fake-admin-api-000")
        .output()
        .expect("run intentctl")
}

/// Issue 20, item 1: concurrent publishes overwrote each other silently. `publish` now reads
/// the active version, sends it in `If-Match`, and when the worker answers 412 says what was
/// published meanwhile and publishes nothing.
#[test]
fn issue_20_1_publish_sends_if_match_and_says_what_changed_meanwhile() {
    let admin = FakeAdmin::start(|req| {
        match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/admin/rules") => active_defaults(),
        _ => (
            412,
            vec![("etag", "\"other@0badf00d\"".to_owned())],
            r#"{"error": "precondition_failed", "message": "the rules changed since version \"default@1c63f927\": the active version is now other@0badf00d", "current": "other@0badf00d", "meanwhile": [{"id": "other@0badf00d", "activated_at": "2026-12-08T10:00:00Z", "summary": "keeps `pricing`; drops `docs`"}]}"#.to_owned(),
        ),
    }
    });
    let out = with_worker(&["publish", "examples/rules/webinar.json"], &admin.url);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the active version is now other@0badf00d"),
        "{err}"
    );
    assert!(
        err.contains("other@0badf00d  2026-12-08T10:00:00Z  keeps `pricing`; drops `docs`"),
        "{err}"
    );
    assert!(err.contains("not published"), "{err}");
    let seen = admin.seen();
    let put = seen.iter().find(|r| r.method == "PUT").expect("a PUT");
    assert_eq!(put.if_match.as_deref(), Some("\"default@1c63f927\""));
    assert!(put.body.contains("2026-12-webinar"));
    // Before it sends, it says what the new rules do to visitors' profiles.
    assert!(
        text(&out.stdout).contains("over default@1c63f927; visitors' profiles: keeps `pricing`"),
        "{}",
        text(&out.stdout)
    );

    // `--if-match` names the version the edit started from, quoted as an entity tag.
    let out = with_worker(
        &[
            "publish",
            "examples/rules/webinar.json",
            "--if-match",
            "older@12345678",
        ],
        &admin.url,
    );
    assert_eq!(out.status.code(), Some(1));
    let last = admin.seen().into_iter().rev().find(|r| r.method == "PUT");
    assert_eq!(
        last.and_then(|r| r.if_match).as_deref(),
        Some("\"older@12345678\"")
    );
}

/// Issue 20, item 2: rollback was one step deep and toggled. `intentctl history` lists the
/// versions and `intentctl rollback ID` restores a chosen one, conditionally.
#[test]
fn issue_20_2_history_and_rollback_to_a_chosen_version() {
    let admin = FakeAdmin::start(|req| {
        match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/admin/rules") => active_defaults(),
        ("GET", "/v1/admin/rules/history") => (
            200,
            vec![],
            r#"{"active": "default@1c63f927", "versions": [
                {"id": "default@1c63f927", "published_at": "2026-12-08T09:00:00Z", "activated_at": "2026-12-08T11:00:00Z", "previous": "first@00000001", "summary": "keeps everything", "active": true},
                {"id": "first@00000001", "published_at": "2026-12-01T09:00:00Z", "activated_at": "2026-12-01T09:00:00Z", "previous": null, "summary": "the first version kept", "active": false}]}"#
                .to_owned(),
        ),
        _ => (
            200,
            vec![],
            r#"{"id": "first@00000001", "previous": "default@1c63f927", "stored": true, "profiles": {"summary": "keeps `pricing`"}}"#.to_owned(),
        ),
    }
    });
    let out = with_worker(&["history"], &admin.url);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains(
            "* default@1c63f927  published 2026-12-08T09:00:00Z, active again 2026-12-08T11:00:00Z"
        ),
        "{listed}"
    );
    assert!(
        listed.contains("  first@00000001  published 2026-12-01T09:00:00Z\n"),
        "{listed}"
    );

    let out = with_worker(&["rollback", "first@00000001"], &admin.url);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rolled back to first@00000001, replacing default@1c63f927"));
    let seen = admin.seen();
    let post = seen.iter().find(|r| r.method == "POST").expect("a POST");
    assert_eq!(post.path, "/v1/admin/rules/rollback");
    assert_eq!(post.if_match.as_deref(), Some("\"default@1c63f927\""));
    let body: serde_json::Value = serde_json::from_str(&post.body).expect("JSON");
    assert_eq!(body["to"], "first@00000001");
}

/// Issue 20, item 4: the CLI read `INTENT_ADMIN_TOKEN` while the README wrote
/// `--token "$ADMIN_TOKEN"`. One name now, in the CLI's help and everywhere in the README.
#[test]
fn issue_20_4_one_admin_token_variable_in_the_cli_and_the_readme() {
    for command in ["publish", "history", "rollback"] {
        let help = text(&intentctl(&[command, "--help"]).stdout);
        assert!(help.contains("INTENT_ADMIN_TOKEN"), "{command}: {help}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    assert!(readme.contains("INTENT_ADMIN_TOKEN"));
    assert!(
        !readme.contains("$ADMIN_TOKEN"),
        "the README uses a shell variable `ADMIN_TOKEN` that intentctl does not read"
    );
}

/// Issue 20, item 5: `validate` printed "1 segments".
#[test]
fn issue_20_5_validate_counts_in_the_singular() {
    let out = intentctl(&["validate", "examples/rules/webinar.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(", 1 segment, 8 page groups, 3 slots;"),
        "{said}"
    );
    assert!(!said.contains("1 segments"), "{said}");
}

/// Issue 20, item 5: page-group matching ignores case, and nothing said so. The README says it,
/// and it holds: `/PRICING` counts as a pricing view.
#[test]
fn issue_20_5_page_group_matching_ignores_case_as_the_readme_says() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    assert!(
        readme.contains("Patterns ignore case: `/Pricing*` and `/pricing*` match the same paths"),
        "the README does not say that page groups ignore case"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("log.jsonl");
    let lines: Vec<String> = ["/PRICING", "/Pricing/Team", "/pricing"]
        .iter()
        .enumerate()
        .map(|(i, path)| {
            format!(
                r#"{{"visitor": "v", "ts": "2026-11-2{i}T10:00:00Z", "type": "pageview", "url": "https://acme.test{path}"}}"#
            )
        })
        .collect();
    std::fs::write(&log, lines.join("\n")).expect("the log");
    let out = intentctl(&[
        "simulate",
        "--events",
        log.to_str().expect("a UTF-8 path"),
        "--at",
        "2026-11-23T10:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(r#""tier":"ready""#),
        "three pricing views, whatever their case, make a visitor ready: {}",
        text(&out.stdout)
    );
}
