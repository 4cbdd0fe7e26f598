//! docs/connections.md is checked against the binary: every admin-API `curl` of its shell snippets runs, in
//! the document's order, against a live server, and must succeed. Placeholders (`…`, `$CLIENT_ID`,
//! `$NATIVE_ID`) are filled with values the server accepts; everything else is sent as written.

use reqwest::Method;
use serde_json::Value;

use crate::harness::*;

/// A `curl` of a snippet, as the admin API sees it.
#[derive(Debug)]
struct Call {
    line: usize,
    method: Method,
    path: String,
    body: Option<Value>,
}

/// The shell snippets' commands, continuation lines joined, with their first line number.
fn commands(doc: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut current: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_sh = !in_sh && line.trim_start().starts_with("```sh");
            if let Some(c) = current.take() {
                out.push(c);
            }
            continue;
        }
        if !in_sh {
            continue;
        }
        match &mut current {
            Some((_, text)) => {
                text.push('\n');
                text.push_str(line);
            }
            None if line.trim_start().starts_with("curl") || line.contains("$(curl") => {
                current = Some((i + 1, line.into()))
            }
            None => continue,
        }
        // A command ends where its quotes are balanced and its line does not continue.
        let (_, text) = current.as_ref().expect("current");
        if text.matches('\'').count() % 2 == 0 && !text.trim_end().ends_with('\\') {
            out.push(current.take().expect("current"));
        }
    }
    out
}

fn parse(line: usize, command: &str) -> Option<Call> {
    let api = command.find("$API")?;
    let rest = &command[api + 4..];
    let path: String =
        rest.chars().take_while(|c| !c.is_whitespace() && *c != '\'' && *c != '|' && *c != ')').collect();
    let body = command.find("-d '").map(|start| {
        let from = start + 4;
        let end = command[from..].find('\'').expect("closing quote") + from;
        command[from..end].to_string()
    });
    let method = match command.split_whitespace().skip_while(|w| *w != "-X").nth(1) {
        Some(m) => Method::from_bytes(m.as_bytes()).expect("method"),
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let body =
        body.map(|b| serde_json::from_str(&b).unwrap_or_else(|e| panic!("line {line}: body is not JSON ({e}): {b}")));
    Some(Call { line, method, path, body })
}

/// Replaces the placeholders of a body with values the server accepts.
fn fill(value: &mut Value, key: Option<&str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                fill(v, Some(k));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, key)),
        Value::String(s) if s.contains('…') => {
            *s = match key {
                Some("token") => "docsToken0123".into(),
                Some("encoding_aes_key") => "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into(),
                Some("corp_id" | "provider_corp_id") => "wwdocs0000000001".into(),
                _ => "docs-placeholder".into(),
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_admin_api_snippet_of_the_connection_guide_runs() {
    let env = start().await;
    let (client_id, _) = env.app("web", "https://app.example.com/cb").await;
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/connections.md")).unwrap();
    let mut native_id = String::new();
    let mut ran = 0;
    // The general section enables a connection the kind sections create later: a 404 is retried at the end.
    let mut deferred: Vec<Call> = Vec::new();
    for (line, command) in commands(&doc) {
        let Some(mut call) = parse(line, &command) else { continue };
        call.path = call.path.replace("$CLIENT_ID", &client_id).replace("$NATIVE_ID", &native_id);
        if let Some(body) = &mut call.body {
            fill(body, None);
        }
        let (status, answer) = env.admin(call.method.clone(), &call.path, call.body.clone()).await;
        if status == reqwest::StatusCode::NOT_FOUND {
            deferred.push(call);
            continue;
        }
        assert!(
            status.is_success(),
            "docs/connections.md line {}: {} {} → {status} {answer}",
            call.line,
            call.method,
            call.path
        );
        if command.contains("NATIVE_ID=") {
            native_id = answer["client_id"].as_str().expect("the native app's client_id").to_string();
        }
        ran += 1;
    }
    for call in deferred {
        let (status, answer) = env.admin(call.method.clone(), &call.path, call.body.clone()).await;
        assert!(
            status.is_success(),
            "docs/connections.md line {}: {} {} → {status} {answer}",
            call.line,
            call.method,
            call.path
        );
        ran += 1;
    }
    assert!(ran >= 15, "the guide's snippets were found ({ran})");
}
