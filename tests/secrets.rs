//! Secrets never reach a report or the console.

mod common;
use common::{Sim, Workspace};

#[test]
fn secret_values_and_credential_headers_are_masked_everywhere() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: secrets
target: {{ url: "{}" }}
secrets: [API_KEY]
defaults:
  headers: {{ Authorization: "Bearer ${{BEARER_TOKEN}}" }}
tests:
  - name: key in the query string
    http: {{ path: /nope, query: {{ key: "${{API_KEY}}" }} }}
  - name: key echoed by a command
    exec:
      command: [sh, -c, 'echo "token=$T bearer=$B"']
      env: {{ T: "${{API_KEY}}", B: "${{BEARER_TOKEN}}" }}
    expect: {{ stdout: {{ equals: nothing }} }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun_env(
        &["s.yaml", "--verbose"],
        &[("API_KEY", "sk-live-0123456789"), ("BEARER_TOKEN", "tok-abcdefgh")],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("token=*** bearer=***"), "the failure is still explained: {}", run.stdout);
    assert!(
        run.stdout.contains("│ > Authorization: ***"),
        "-v shows the headers sent, masked: {}",
        run.stdout
    );
    for text in run.everything() {
        assert!(!text.contains("sk-live-0123456789"), "API key leaked:\n{text}");
        assert!(!text.contains("tok-abcdefgh"), "bearer token leaked:\n{text}");
    }
    assert!(run.report("report.json").contains("key=***"));
}

/// Every form an output could hold `s` in.
fn encodings(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap();
    let pct = |plus: bool| {
        s.bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
                b' ' if plus => "+".to_string(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    vec![
        s.to_string(),
        json[1..json.len() - 1].to_string(),
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;"),
        s.replace('"', "\"\""),
        pct(false),
        pct(true),
        pct(false).to_lowercase(),
    ]
}

fn b64(data: &[u8]) -> String {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    data.chunks(3)
        .flat_map(|c| {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            (0..4).map(
                move |i| if i <= c.len() { STD[((v >> (18 - 6 * i)) & 0x3f) as usize] as char } else { '=' },
            )
        })
        .collect()
}

/// Every file under `dir`, as text (a compressed samples file as what it holds).
fn all_files(dir: &std::path::Path) -> Vec<(String, String)> {
    use std::io::Read;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            let mut bytes = std::fs::read(&p).unwrap();
            if p.extension().is_some_and(|x| x == "hxs") {
                let mut plain = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut plain).unwrap();
                assert!(!plain.is_empty(), "{}", p.display());
                bytes = plain;
            }
            out.push((p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

#[test]
fn a_secret_is_masked_in_every_encoding_in_every_output() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    // Characters that every encoding changes: space, quotes, <&>, slash, plus, non-ASCII.
    let secret = r#"Zq9 "k"/<&>+é-key"#;
    let user_secret = format!("admin:{secret}");
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: secrets
target: {{ url: "{url}" }}
vars:
  keys: ["${{KEY}}", other-value]
secrets: [keys]
tests:
  - name: with {{{{key}}}}
    for_each: {{ key: "${{keys}}" }}
    http:
      path: "/nope/{{{{key}}}}"
      query: {{ q: "{{{{key}}}}" }}
      headers: {{ Authorization: "Basic {basic}", X-Note: "{{{{key}}}}" }}
      json: {{ k: "{{{{key}}}}" }}
  - name: echoes it
    exec: {{ command: [echo, "${{KEY}}"] }}
    expect: {{ stdout: {{ equals: nothing }} }}
  - name: perf with it
    perf:
      http: {{ path: "/nope", query: {{ q: "${{KEY}}" }} }}
      iterations: 2
      csv: perf.csv
  - name: perf naming it as the model
    perf:
      generate: {{ model: "${{KEY}}", prompt: hi }}
      iterations: 2
"#,
            url = sim.url,
            basic = b64(user_secret.as_bytes()),
        ),
    );
    let run = ws.hxrun_env(&["s.yaml", "--verbose"], &[("KEY", secret)]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("with ***"),
        "the test named after the secret is there, masked: {}",
        run.stdout
    );
    let mut outputs =
        vec![("stdout".to_string(), run.stdout.clone()), ("stderr".to_string(), run.stderr.clone())];
    outputs.extend(all_files(&ws.path().join("reports")));
    assert!(
        outputs.len() >= 8,
        "console and every report: {:?}",
        outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    let mut forms = encodings(secret);
    forms.push(b64(user_secret.as_bytes()));
    for (name, text) in &outputs {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{name} holds the secret as {form:?}:\n{text}");
        }
        assert!(!text.contains("Zq9"), "{name} holds part of the secret:\n{text}");
    }
}

#[test]
fn a_secret_naming_no_variable_is_an_error() {
    let ws = Workspace::new();
    ws.write("s.yaml", "suite: s\nsecrets: [API_KEY, TYPO_KEY]\nvars: { API_KEY: x123 }\ntests:\n  - name: a\n    http: { path: / }\n");
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("s.yaml:2:20: `secrets` names `TYPO_KEY`, which is neither defined nor used"),
        "{}",
        run.stderr
    );
}

/// A server that answers every request with its own request head (so an `Authorization`
/// header comes back in the body), status 500.
fn echo_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 500 Oops\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                head.len()
            );
        }
    });
    url
}

#[test]
fn a_list_secret_from_the_environment_and_a_url_password_are_masked() {
    let echo = echo_server();
    let ws = Workspace::new();
    let password = "pw-Q7x!k2";
    ws.write(
        "s.yaml",
        r#"suite: s
target: { url: "http://ops:${URL_PW}@ECHO" }
secrets: [SECLIST]
tests:
  - name: item {{item}}
    for_each: { item: "${SECLIST}" }
    http: { path: "/p/{{item}}" }
  - name: the server echoes the request
    http: { path: /echo }
"#
        .replace("ECHO", &echo)
        .as_str(),
    );
    let run = ws.hxrun_env(
        &["s.yaml", "--verbose"],
        &[("SECLIST", "alpha-item-1,bravo-item-2"), ("URL_PW", password)],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("item ***"), "{}", run.stdout);
    // The echoed head holds the Basic-auth header hxrun sent: ops:PASSWORD in base64.
    assert!(run.stdout.contains("authorization: Basic ***\\r\\n"), "{}", run.stdout);
    let mut forms = encodings(password);
    forms.extend(["alpha-item-1", "bravo-item-2"].iter().flat_map(|s| encodings(s)));
    forms.push(b64(format!("ops:{password}").as_bytes()));
    let mut outputs =
        vec![("stdout".to_string(), run.stdout.clone()), ("stderr".to_string(), run.stderr.clone())];
    outputs.extend(all_files(&ws.path().join("reports")));
    for (name, text) in &outputs {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{name} holds a secret as {form:?}:\n{text}");
        }
    }
}

#[test]
fn a_credential_written_into_the_suite_warns_with_the_variable_form() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        "suite: s\ntarget: { url: \"http://127.0.0.1:9\", api_key: sk-live-123456 }\ntests:\n  - name: a\n    http: { path: /, headers: { Authorization: \"Bearer abcdefgh\" } }\n  - name: b\n    http: { path: /, headers: { Authorization: \"Bearer ${TOKEN:-x}\" } }\n",
    );
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 0, "a warning, not an error: {}", run.stderr);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(
        warnings.len(),
        2,
        "the literal key and the literal header, not the ${{TOKEN}} one: {warnings:?}"
    );
    assert!(
        warnings[0].contains("s.yaml:2:47: an `api_key` is written into the suite")
            && warnings[0].contains("`api_key: ${API_KEY}`"),
        "{warnings:?}"
    );
    assert!(warnings[1].contains("s.yaml:5:48: the `Authorization` header's value"), "{warnings:?}");
    assert!(!run.stderr.contains("sk-live-123456") && !run.stderr.contains("abcdefgh"), "{}", run.stderr);
}
