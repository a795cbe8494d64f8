//! Every kind of suite mistake is reported with file:line:col and what was expected, all
//! errors of a file at once, exit code 2, never a panic.

mod common;
use common::Workspace;

fn validate(text: &str) -> (i32, String) {
    let ws = Workspace::new();
    ws.write("suite.yaml", text);
    let run = ws.hxrun(&["validate", "suite.yaml"]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    (run.code, run.stderr)
}

fn assert_error(text: &str, location: &str, message: &str) {
    let (code, stderr) = validate(text);
    assert_eq!(code, 2, "{stderr}");
    let line = format!("error: suite.yaml:{location}: {message}");
    assert!(stderr.contains(&line), "expected `{line}` in:\n{stderr}");
}

#[test]
fn unknown_field_with_suggestion() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    timeuot: 5s\n    http: { path: / }\n",
        "4:5",
        "unknown field `timeuot`, did you mean `timeout`?",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { pth: / }\n",
        "4:13",
        "unknown field `pth`, did you mean `path`?",
    );
}

#[test]
fn wrong_type() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    retries: lots\n    http: { path: / }\n",
        "4:14",
        "expected a whole number (0 or more), found the string \"lots\"",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    tags: 3\n    http: { path: / }\n",
        "4:11",
        "expected a list, found the number 3",
    );
}

#[test]
fn missing_and_doubled_step_kinds() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    expect: { status: 200 }\n",
        "3:5",
        "test \"a\" has no step: add exactly one of `http`, `tcp`, `exec`, `generate`, `chat`, `pull`, `models`, `unload`",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    tcp: { port: 1 }\n",
        "5:10",
        "test \"a\" has 2 steps (`http` and `tcp`)",
    );
}

#[test]
fn unknown_placeholder_and_undefined_variable() {
    assert_error(
        "suite: s\ntests:\n  - name: a {{modle}}\n    for_each: { model: [x] }\n    http: { path: / }\n",
        "3:11",
        "unknown placeholder `{{modle}}`, did you mean `{{model}}`?",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: \"/${NOT_DEFINED_ANYWHERE}\" }\n",
        "4:19",
        "undefined variable `NOT_DEFINED_ANYWHERE`",
    );
}

#[test]
fn yaml_syntax_error_has_position() {
    assert_error("suite: s\ntests:\n  - name: a\n    http: {path: /\n", "4:11", "invalid YAML");
}

#[test]
fn bad_values_inside_expectations() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    expect: { duration: \"< 5 parsecs\" }\n",
        "5:25",
        "unknown unit \"parsecs\"",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    expect: { body: { matches: \"(\" } }\n",
        "5:32",
        "invalid regular expression `(`",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    exec: { command: [x] }\n    expect: { status: 200 }\n",
        "5:15",
        "`expect.status` applies to `http`, `generate`, `chat`, `unload`, `embed` steps, but this test's step is `exec`",
    );
}

#[test]
fn all_errors_of_a_file_at_once() {
    let (code, stderr) = validate(
        "suite: s\ntests:\n  - name: a\n    timeuot: 1s\n    http: { path: / }\n  - name: b\n  - name: c\n    http: { path: \"${NOPE}\" }\n",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("suite.yaml:4:5: unknown field"), "{stderr}");
    assert!(stderr.contains("suite.yaml:6:5: test \"b\" has no step"), "{stderr}");
    assert!(stderr.contains("suite.yaml:8:19: undefined variable `NOPE`"), "{stderr}");
    assert!(stderr.contains("3 errors found"), "{stderr}");
    // A caret snippet points at the line.
    assert!(stderr.contains("4 │     timeuot: 1s"), "{stderr}");
}

#[test]
fn duplicate_names_are_refused() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n  - name: a\n    http: { path: / }\n",
        "5:11",
        "duplicate test name \"a\" (first used at suite.yaml:3:5)",
    );
}

#[test]
fn missing_file_is_exit_2() {
    let ws = Workspace::new();
    let run = ws.hxrun(&["validate", "nope.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nope.yaml: cannot read suite"), "{}", run.stderr);
}

#[test]
fn header_injection_and_bad_methods_are_refused_before_anything_runs() {
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http:\n      path: /\n      headers: { X-Note: \"a\\r\\nX-Injected: 1\" }\n",
        "6:26",
        "the value of header \"X-Note\" holds a line break or NUL",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: /, method: \"GET / HTTP/1.1\\r\\n\" }\n",
        "4:30",
        "\"GET / HTTP/1.1\\r\\n\" is not an HTTP method",
    );
    assert_error(
        "suite: s\ndefaults:\n  headers: { \"Bad Name\": x }\ntests:\n  - name: a\n    http: { path: / }\n",
        "3:26",
        "header name \"Bad Name\" cannot be sent",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    perf:\n      http: { path: /, headers: { X: \"1\\n2\" } }\n      iterations: 1\n",
        "5:38",
        "the value of header \"X\" holds a line break",
    );
}

#[test]
fn expansions_and_concurrency_past_their_caps_are_refused_with_a_place() {
    let list = format!("[{}]", (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
    let text = format!(
        "suite: s\ntests:\n  - name: t {{{{a}}}} {{{{b}}}} {{{{c}}}} {{{{d}}}} {{{{e}}}}\n    for_each: {{ a: {list}, b: {list}, c: {list}, d: {list}, e: {list} }}\n    http: {{ path: / }}\n"
    );
    assert_error(
        &text,
        "4:15",
        "`for_each` expands to 10000000000 tests (a (100) × b (100) × c (100) × d (100) × e (100)), more than the 10000",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    perf:\n      http: { path: / }\n      concurrency: 100000000\n",
        "6:7",
        "concurrency 100000000 is out of range: a level keeps 1 to 10000 requests in flight",
    );
}

#[test]
fn urls_and_comparisons_are_checked_before_anything_runs() {
    assert_error(
        "suite: s\ntarget: { url: \"htp:/127.0.0.1::9\" }\ntests:\n  - name: a\n    http: { path: / }\n",
        "2:16",
        "target.url: \"htp:/127.0.0.1::9\" has the scheme `htp`: hxrun speaks http:// and https:// only",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { url: \"ftp://files.example/x\" }\n",
        "4:18",
        "url: \"ftp://files.example/x\" has the scheme `ftp`",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi }\n    expect:\n      metrics: { ttft: \"~= 5s\" }\n",
        "6:24",
        "\"~= 5s\" is not a comparison: expected an operator (<, <=, >, >=, ==, !=)",
    );
}

#[test]
fn common_yaml_slips_get_a_hint_and_no_library_words() {
    let cases = [
        (
            "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: Summarize HX Infrastructure: in one sentence }\n",
            "a value that contains `: ` must be quoted",
        ),
        (
            "suite: s\ntests:\n  - name: a\n    for_each: { model: [a] }\n    generate:\n      model: {{model}}\n      prompt: hi\n",
            "a `{{placeholder}}` value must be quoted",
        ),
        (
            "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi }\n    expect:\n      metrics:\n        eval_count: > 0\n",
            "a comparison must be quoted — write \"> 0\"",
        ),
        ("suite: s\ntests:\n  - name: a\n\thttp: { path: / }\n", "4:1: a tab is used for indentation"),
        (
            "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    http: { path: /x }\n",
            "5:5: `http` is written twice in the same mapping",
        ),
        (
            "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    expect: { body: { matches: \"(x\" } }\n",
            "invalid regular expression `(x`: unclosed group",
        ),
    ];
    for (text, want) in cases {
        let (code, stderr) = validate(text);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(want), "expected `{want}` in:\n{stderr}");
        for word in ["DuplicateKeyPolicy", "budget", "error: error", "error: line", "Options"] {
            assert!(!stderr.contains(word), "library words `{word}` in:\n{stderr}");
        }
    }
}

#[test]
fn a_non_utf8_suite_names_the_place_of_the_bad_byte() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path().join("s.yaml"),
        [b"suite: s\ntests:\n  - name: caf".as_slice(), &[0xE9], b"\n"].concat(),
    )
    .unwrap();
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("s.yaml:3:14: the file is not UTF-8: byte 0xE9 at 3:14"), "{}", run.stderr);
}

#[test]
fn a_ten_megabyte_suite_loads() {
    // Big prompts: 10 MB of text in 500 tests, then a list of 300,000 values (past the YAML
    // library's default budget of 250,000 nodes, which refused valid suites).
    let prompt = "word ".repeat(4000);
    let mut text = String::from("suite: big\nvars:\n  many: [");
    text.push_str(&vec!["1"; 300_000].join(","));
    text.push_str("]\ntests:\n");
    for i in 0..500 {
        text.push_str(&format!("  - name: t{i}\n    generate: {{ model: m, prompt: \"{prompt}\" }}\n"));
    }
    assert!(text.len() > 10_000_000, "{}", text.len());
    let (code, stderr) = validate(&text);
    assert_eq!(code, 0, "{}", &stderr[..stderr.len().min(2000)]);
}

#[test]
fn a_metric_the_steps_api_cannot_produce_is_refused() {
    assert_error(
        "suite: s\ntarget: { api: openai }\ntests:\n  - name: a\n    chat: { model: m, messages: [{ role: user, content: hi }] }\n    expect: { metrics: { load_duration: \"> 0s\" } }\n",
        "6:26",
        "`load_duration` comes only from Ollama's answers, and this step speaks OpenAI",
    );
}

#[test]
fn an_error_far_along_a_long_line_is_shown_around_its_place() {
    // A 100 KiB one-line JSON suite with a typo at its end (column > 65,535).
    let tests: Vec<String> =
        (0..3000).map(|i| format!("{{\"name\": \"t{i}\", \"http\": {{\"path\": \"/\"}}}}")).collect();
    let text = format!(
        "{{\"suite\": \"s\", \"tests\": [{}, {{\"name\": \"x\", \"htp\": {{}}}}]}}",
        tests.join(", ")
    );
    assert!(text.len() > 100_000);
    let ws = Workspace::new();
    ws.write("long.json", &text);
    let run = ws.hxrun(&["validate", "long.json"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let col = text.find("\"htp\"").unwrap() + 1;
    assert!(
        run.stderr.contains(&format!("long.json:1:{col}: ")),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(run.stderr.contains("│ …"), "the line is cut around the error: {}", run.stderr);
    assert!(run.stderr.len() < 4000, "the whole 100 KiB line was printed: {} bytes", run.stderr.len());
}

#[test]
fn an_unclosed_placeholder_is_an_error_and_a_literal_one_is_text() {
    assert_error(
        "suite: s\ntests:\n  - name: a {{model}\n    for_each: { model: [m] }\n    http: { path: / }\n",
        "3:11",
        "`{{model}` opens a placeholder with `{{` but never closes it: write `{{name}}`, or `{{'{{'}}` for a literal `{{`",
    );
    let ws = Workspace::new();
    ws.write("s.yaml", "suite: s\ntests:\n  - name: \"a {{'{{'}}model}} {{model}}\"\n    for_each: { model: [m] }\n    http: { path: / }\n");
    let run = ws.hxrun(&["list", "s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("a {{model}} m"), "{}", run.stdout);
}

#[test]
fn durations_that_measure_nothing_are_refused_with_the_fix() {
    let step = "    http: { path: / }\n";
    assert_error(
        &format!("suite: s\ntests:\n  - name: a\n    timeout: 0s\n{step}"),
        "4:5",
        "`timeout: 0s` leaves no time for an answer: give the longest a request may take, with a unit (e.g. `timeout: 30s`)",
    );
    assert_error(
        &format!("suite: s\ntests:\n  - name: a\n    timeout: 1ns\n{step}"),
        "4:5",
        "`timeout: 1ns` leaves no time",
    );
    assert_error(
        &format!("suite: s\ndefaults: {{ timeout: 0s }}\ntests:\n  - name: a\n{step}"),
        "2:13",
        "defaults.`timeout: 0s` leaves no time",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    perf:\n      http: { path: / }\n      duration: 0s\n",
        "6:7",
        "`duration: 0s` measures no request, so the test would pass on nothing",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi, stream: true, chunk_timeout: 0s }\n",
        "4:53",
        "`chunk_timeout: 0s` leaves no time",
    );
    let ws = Workspace::new();
    ws.write("s.yaml", &format!("suite: s\ntests:\n  - name: a\n{step}"));
    for flag in ["--max-time", "--timeout", "--barrier-timeout"] {
        let run = ws.hxrun(&["s.yaml", flag, "0s"]);
        assert_eq!(run.code, 2, "{flag} 0s: {}", run.stderr);
        assert!(run.stderr.contains("\"0s\" leaves no time: give a limit of at least 1ms"), "{}", run.stderr);
    }
}

#[test]
fn a_bound_without_its_unit_is_refused_with_the_spelling() {
    let perf = |bound: &str| {
        format!(
            "suite: s\ntests:\n  - name: a\n    perf: {{ http: {{ path: / }} }}\n    thresholds:\n      {bound}\n"
        )
    };
    assert_error(
        &perf("ttft.p95: \"< 500\""),
        "6:17",
        "`ttft.p95: \"< 500\"` is a time without a unit (a bare number would be read as seconds): write \"< 500ms\" or \"< 500s\"",
    );
    assert_error(
        &perf("tokens_per_s.cov: \"< 0.2\""),
        "6:25",
        "`tokens_per_s.cov: \"< 0.2\"` is a percentage: write it with % — \"< 0.2%\" (a share of 0.2 is \"< 20%\")",
    );
    assert_error(&perf("gpu.memory_used.max: \"< 24\""), "6:28", "`gpu.memory_used.max` is a size");
    assert_error(&perf("request_throughput: \"> 5s\""), "6:27", "`request_throughput` is a plain number");
    assert_error(
        "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi, stream: true }\n    expect: { metrics: { ttft: \"< 2\" } }\n",
        "5:32",
        "`ttft: \"< 2\"` is a time without a unit",
    );
    // Zero needs no unit, and a drift's bare number on a percentage is percentage points.
    let (code, stderr) =
        validate(&perf("error_rate: \"== 0\"\n      ttft.p95: \"< 2s\"\n      tokens_per_s.cov: \"< 20%\""));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_regression_tolerance_on_a_time_takes_its_unit() {
    let perf = |tol: &str| {
        format!(
            "suite: s\ntests:\n  - name: a\n    perf: {{ http: {{ path: / }} }}\n    regression:\n      {tol}\n"
        )
    };
    assert_error(
        &perf("ttft.p95: 0.05"),
        "6:17",
        "`ttft.p95: 0.05` is a time without a unit (a bare number would be read as seconds): write 0.05ms or 0.05s",
    );
    let (code, stderr) = validate(&perf("ttft.p95: 50ms\n      e2e.p95: 20%\n      error_rate: 1"));
    assert_eq!(code, 0, "{stderr}");
    let ws = Workspace::new();
    let run = ws.hxrun(&["compare", "a", "b", "--tolerance", "e2e.p95=0.1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`e2e.p95: 0.1` is a time without a unit"), "{}", run.stderr);
}

#[test]
fn a_url_as_the_target_and_an_empty_index_say_what_to_write() {
    assert_error(
        "suite: s\ntarget: http://127.0.0.1:9\ntests:\n  - name: a\n    http: { path: / }\n",
        "2:9",
        "`target` is a mapping: write `target: { url: \"http://127.0.0.1:9\" }`",
    );
    assert_error(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    expect: { json: { \"$.a[]\": { exists: true } } }\n",
        "5:23",
        "`$.a[]` is not a valid JSONPath",
    );
    let (_, stderr) = validate(
        "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    expect: { json: { \"$.a[]\": { exists: true } } }\n",
    );
    assert!(stderr.contains("every element is `[*]`: `$.a[*]`"), "{stderr}");
}

#[test]
fn a_stream_only_check_on_an_answer_not_streamed_is_refused() {
    let test = |stream: &str, expect: &str| {
        format!(
            "suite: s\ntests:\n  - name: a {{{{s}}}}\n    for_each: {{ s: {stream} }}\n    generate: {{ model: m, prompt: hi, stream: \"{{{{s}}}}\" }}\n    expect: {{ {expect} }}\n"
        )
    };
    assert_error(
        &test("[false, true]", "metrics: { ttft: \"< 2s\" }"),
        "6:26",
        "`ttft` is measured only on a streamed answer, and this test's answer is not streamed (stream: false): ask it of a test with `stream: true`",
    );
    let (_, stderr) = validate(&test("[false, true]", "metrics: { ttft: \"< 2s\" }"));
    assert_eq!(stderr.matches("`ttft` is measured only").count(), 1, "once, not per expansion: {stderr}");
    assert_error(&test("[false]", "agree: { tokens: 0 }"), "6:15", "`agree` compares the server's figures");
    let (code, stderr) = validate(&test("[true]", "metrics: { ttft: \"< 2s\" }, agree: { tokens: 0 }"));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_indentation_slip_is_said_in_words_and_the_caret_is_under_it() {
    let (code, stderr) = validate(
        "suite: s\ntarget: { url: \"http://127.0.0.1:1\" }\ntests:\n  - name: a\n    http:\n      path: /\n  expect:\n    status: 200\n",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "error: suite.yaml:7:3: invalid YAML: `expect:` is indented 2 spaces less than `http:` on line 5 above it"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("did not find expected '-' indicator"), "{stderr}");
    // The caret stands under the column the message names, on any line of the file.
    let lines: Vec<&str> = stderr.lines().collect();
    let source = lines.iter().position(|l| l.contains(" 7 │   expect:")).expect("the line is shown");
    let under = lines[source + 1].chars().position(|c| c == '┬').expect("a caret");
    let key = lines[source].chars().position(|c| c == 'e').unwrap();
    assert_eq!(under, key, "{stderr}");
}
