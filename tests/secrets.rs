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
    for text in run.everything() {
        assert!(!text.contains("sk-live-0123456789"), "API key leaked:\n{text}");
        assert!(!text.contains("tok-abcdefgh"), "bearer token leaked:\n{text}");
    }
    assert!(run.report("report.json").contains("key=***"));
}
