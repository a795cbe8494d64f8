//! Test cases from data files: a `for_each` over the rows of JSON Lines, CSV, JSON or YAML,
//! each row's fields as placeholders; errors name the file and the row.

mod common;
use common::{Sim, Workspace};

const JSONL: &str = r#"{"id": "add-1", "question": "Two plus two?", "answer": 4}
{"id": "mul-2", "question": "Six times seven?", "answer": "42"}

{"id": "neg-3", "question": "Three minus ten?", "answer": -7}
"#;

fn suite(url: &str, file: &str) -> String {
    format!(
        r#"suite: cases
target: {{ url: "{url}" }}
tests:
  - name: arithmetic
    for_each: {{ case: {{ file: {file} }} }}
    generate: {{ model: phi3:latest, prompt: "Return exactly the text: The answer is {{{{case.answer}}}}." }}
    expect:
      text: {{ number: "{{{{case.answer}}}}" }}
"#
    )
}

#[test]
fn every_row_of_a_case_file_is_a_test_named_by_its_id() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("cases")).unwrap();
    ws.write("cases/math.jsonl", JSONL);
    ws.write("cases/math.csv", "id,question,answer\nadd-1,\"Two plus two, quickly?\",4\nmul-2,Six times seven?,42\nneg-3,Three minus ten?,-7\n");
    ws.write(
        "cases/math.yaml",
        "- { id: add-1, question: Two plus two?, answer: 4 }\n- { id: mul-2, question: Six times seven?, answer: 42 }\n- { id: neg-3, question: x, answer: -7 }\n",
    );
    for file in ["cases/math.jsonl", "cases/math.csv", "cases/math.yaml"] {
        ws.write("s.yaml", &suite(&sim.url, file));
        let run = ws.hxrun(&["s.yaml", "--no-progress"]);
        assert_eq!(run.code, 0, "{file}:\n{}\n{}", run.stdout, run.stderr);
        let names: Vec<String> = run.json()["suites"][0]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["arithmetic [case=add-1]", "arithmetic [case=mul-2]", "arithmetic [case=neg-3]"],
            "{file}"
        );
    }
    // Cases are tests: --filter picks one, --shard splits them.
    ws.write("s.yaml", &suite(&sim.url, "cases/math.jsonl"));
    let one = ws.hxrun(&["s.yaml", "--no-progress", "--filter", "mul-2"]);
    assert_eq!(one.code, 0, "{}", one.stdout);
    assert!(one.stdout.contains("1 passed, 0 failed"), "{}", one.stdout);
    let list = ws.hxrun(&["list", "s.yaml", "--shard", "2/2"]);
    assert_eq!(list.stdout.matches("arithmetic [case=").count(), 1, "{}", list.stdout);
    // Without an id, a row is named by where it is written.
    ws.write("cases/plain.jsonl", "{\"answer\": 1}\n{\"answer\": 2}\n");
    ws.write("s.yaml", &suite(&sim.url, "cases/plain.jsonl"));
    let list = ws.hxrun(&["list", "s.yaml"]);
    assert!(list.stdout.contains("arithmetic [case=cases/plain.jsonl:2]"), "{}", list.stdout);
}

#[test]
fn a_bad_case_file_is_an_error_naming_the_file_and_the_row() {
    let ws = Workspace::new();
    let url = "http://127.0.0.1:9";
    for (name, text, said) in [
        ("missing.jsonl", None, "cannot read the case file"),
        ("broken.jsonl", Some("{\"answer\": 1}\n{\"answer\": \n"), "broken.jsonl:2: not a JSON object"),
        ("list.jsonl", Some("[1, 2]\n"), "list.jsonl case 1 is not a mapping of fields"),
        ("empty.csv", Some("answer\n"), "empty.csv holds no case"),
        ("cases.txt", Some("x"), "a case file ends in .jsonl"),
        (
            "short.jsonl",
            Some("{\"answer\": 1}\n{\"id\": \"no-answer\"}\n{\"id\": \"neither\"}\n"),
            "short.jsonl:2 (and any case like it): `{{case.answer}}`: `case` has no field `answer` (it has only `id`)",
        ),
    ] {
        if let Some(text) = text {
            ws.write(name, text);
        }
        ws.write("s.yaml", &suite(url, name));
        let run = ws.hxrun(&["validate", "s.yaml"]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{name}: {said} in\n{}", run.stderr);
        // Once per place the suite uses it, naming the first row only.
        let places = if name == "short.jsonl" { 2 } else { 1 };
        assert_eq!(run.stderr.matches("error:").count(), places, "{}", run.stderr);
        assert!(!run.stderr.contains("short.jsonl:3"), "{}", run.stderr);
    }
    // More rows than a test may expand to.
    let rows: String = (0..10_001).map(|i| format!("{{\"answer\": {i}}}\n")).collect();
    ws.write("many.jsonl", &rows);
    ws.write("s.yaml", &suite(url, "many.jsonl"));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("many.jsonl has more than 10000 rows"), "{}", run.stderr);
}
