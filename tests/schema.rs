//! The committed JSON Schema matches the Rust types, and every shipped suite starts with the
//! yaml-language-server modeline and validates against it.

mod common;
use common::repo;

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("schemas/suite.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = hxrun::spec::json_schema();
    assert!(
        schema() == generated,
        "schemas/suite.schema.json is stale: run `cargo run -- schema > schemas/suite.schema.json`"
    );
}

fn suite_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["suites", "examples"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    files
}

#[test]
fn every_suite_has_the_modeline_and_validates() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    for path in suite_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/suite.schema.json\n"),
            "{} lacks the $schema modeline",
            path.display()
        );
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn schema_catches_a_typo() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let bad: serde_json::Value =
        serde_saphyr::from_str("suite: s\ntests:\n  - name: a\n    timeuot: 5s\n    http: { path: / }\n")
            .unwrap();
    assert!(!validator.is_valid(&bad));
    let good: serde_json::Value = serde_saphyr::from_str(
        "suite: s\ntests:\n  - name: a\n    retries: \"${R}\"\n    http: { path: / }\n",
    )
    .unwrap();
    assert!(validator.is_valid(&good), "a ${{var}} may stand for a number");
}

#[test]
fn shipped_suites_validate_with_hxrun() {
    for path in suite_files() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
            .args(["validate", path.to_str().unwrap()])
            .env("API_KEY", "x")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }
}
