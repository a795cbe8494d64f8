//! for_each expansion, variables, env files and their precedence.

mod common;
use common::{Sim, Workspace};

#[test]
fn for_each_over_a_list_var_expands_names() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: s
vars:
  models: [phi3:latest, gemma2:2b]
tests:
  - name: answer from {{model}} (stream={{stream}})
    tags: [inference]
    for_each: { model: "${models}", stream: [false, true] }
    http: { path: "/api/{{model}}" }
  - name: unnamed expansion
    for_each: { n: [1, 2] }
    http: { path: "/x/{{n}}" }
"#,
    );
    let run = ws.hxrun(&["list", "s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = "s (s.yaml)\n  answer from phi3:latest (stream=false)  [inference]\n  \
answer from phi3:latest (stream=true)  [inference]\n  answer from gemma2:2b (stream=false)  [inference]\n  \
answer from gemma2:2b (stream=true)  [inference]\n  unnamed expansion [n=1]\n  unnamed expansion [n=2]\n";
    assert_eq!(run.stdout, expected);
    // Adding a model is one edit: the --var override proves the list drives everything.
    let run = ws.hxrun(&["list", "s.yaml", "--var", "models=[cogito:32b]", "--filter", "answer"]);
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    assert!(run.stdout.contains("answer from cogito:32b (stream=true)"));
}

#[test]
fn precedence_var_over_suite_over_env_over_env_file_over_default() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "suite.env",
        "A=from-suite-env-file\nB=from-suite-env-file\nC=from-suite-env-file\nD=from-suite-env-file\n",
    );
    ws.write("cli.env", "B=from-cli-env-file\n");
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: s
target: {{ url: "{}" }}
env_file: suite.env
vars:
  V: from-suite-vars
tests:
  - name: probe
    http:
      path: /api/show
      json: {{ model: "${{V}}|${{A}}|${{B}}|${{C}}|${{D}}|${{E:-from-default}}" }}
    expect: {{ status: 404 }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun_env(
        &["s.yaml", "--env-file", "cli.env", "--var", "V=from-cli-var"],
        &[("A", "from-process-env"), ("V", "from-process-env")],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let body = run.json()["suites"][0]["tests"][0]["observation"]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains(
            "model 'from-cli-var|from-process-env|from-cli-env-file|from-suite-env-file|from-suite-env-file|from-default' not found"
        ),
        "{body}"
    );
    // Without --var, the suite's vars win over the process environment.
    let run = ws.hxrun_env(&["s.yaml"], &[("V", "from-process-env")]);
    let body = run.json()["suites"][0]["tests"][0]["observation"]["body"].as_str().unwrap().to_string();
    assert!(body.contains("'from-suite-vars|from-suite-env-file|from-suite-env-file|"), "{body}");
}

#[test]
fn filter_and_tags_select_tests() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        "suite: s\ntests:\n  - name: alpha\n    tags: [smoke]\n    tcp: { port: 1 }\n  - name: beta\n    tags: [perf]\n    tcp: { port: 1 }\n  - name: alphabet\n    tcp: { port: 1 }\n",
    );
    let names = |args: &[&str]| {
        let mut a = vec!["list", "s.yaml"];
        a.extend_from_slice(args);
        let run = ws.hxrun(&a);
        run.stdout
            .lines()
            .skip(1)
            .map(|l| l.split("  [").next().unwrap().trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&["--tag", "smoke"]), vec!["alpha"]);
    assert_eq!(names(&["--filter", "alpha"]), vec!["alpha", "alphabet"]);
    assert_eq!(names(&["--tag", "smoke", "--tag", "perf"]), vec!["alpha", "beta"]);
}

#[test]
fn exit_codes() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let ok = format!(
        "suite: s\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: a\n    http: {{ path: / }}\n",
        sim.url
    );
    ws.write("ok.yaml", &ok);
    ws.write("fail.yaml", &ok.replace("path: / }", "path: / }\n    expect: { status: 500 }"));
    ws.write("bad.yaml", "suite: s\ntests: 3\n");
    assert_eq!(ws.hxrun(&["ok.yaml"]).code, 0);
    assert_eq!(ws.hxrun(&["run", "ok.yaml"]).code, 0);
    assert_eq!(ws.hxrun(&["fail.yaml"]).code, 1);
    assert_eq!(ws.hxrun(&["bad.yaml"]).code, 2);
    assert_eq!(ws.hxrun(&["ok.yaml", "--no-such-flag"]).code, 2);
    // One invalid suite stops the whole run before anything is sent.
    std::fs::remove_dir_all(ws.path().join("reports")).unwrap();
    let run = ws.hxrun(&["ok.yaml", "bad.yaml"]);
    assert_eq!(run.code, 2);
    assert!(!run.dir.join("reports").exists());
}

#[test]
fn a_target_without_a_scheme_gets_http_as_ollama_does() {
    let sim = common::Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        "suite: s\ntarget: { url: \"${OLLAMA_HOST}\" }\ntests:\n  - name: root\n    http: { path: / }\n",
    );
    let bare = sim.url.trim_start_matches("http://").to_string();
    let run = ws.hxrun_env(&["s.yaml", "-v"], &[("OLLAMA_HOST", &bare)]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("target.url: \"{bare}\" has no scheme: using http://{bare}")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_list_can_come_from_the_environment_as_a_comma_separated_or_flow_list() {
    let ws = Workspace::new();
    ws.write("models.env", "MODELS=[gemma2:2b, \"cogito:32b\"]\n");
    ws.write(
        "s.yaml",
        r#"suite: lists
tests:
  - name: "{{model}} is answered"
    for_each: { model: "${MODELS}" }
    tcp: { host: 127.0.0.1, port: 1 }
    skip: listing only
  - name: listed
    tags: "${TAGS}"
    models: { present: "${MODELS}" }
  - name: one model is a list of one
    for_each: { model: "${ONE}" }
    tcp: { host: 127.0.0.1, port: 1 }
"#,
    );
    let env = [("MODELS", "phi3:latest,cogito:32b"), ("TAGS", "smoke, inference"), ("ONE", "phi3:latest")];
    let run = ws.hxrun_env(&["list", "s.yaml"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for want in [
        "phi3:latest is answered",
        "cogito:32b is answered",
        "listed  [smoke, inference]",
        "one model is a list of one",
    ] {
        assert!(run.stdout.contains(want), "missing {want:?} in {}", run.stdout);
    }
    // From an env file, a YAML flow list.
    let run = ws.hxrun_env(&["list", "s.yaml", "--env-file", "models.env"], &[("TAGS", "a"), ("ONE", "x")]);
    assert!(
        run.stdout.contains("gemma2:2b is answered") && run.stdout.contains("cogito:32b is answered"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // A text that is not a list where one must be says how to write one.
    ws.write(
        "bad.yaml",
        "suite: bad\ntests:\n  - name: t\n    exec: { command: systemctl is-active ollama }\n",
    );
    let run = ws.hxrun(&["validate", "bad.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("hxrun runs no shell, so a text would be one program name"),
        "{}",
        run.stderr
    );
}
