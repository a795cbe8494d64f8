//! Installing hxrun: shell completions and man pages generated from the command line itself.

mod common;
use common::Workspace;

#[test]
fn completions_are_valid_shell_and_know_every_command() {
    let ws = Workspace::new();
    let bash = ws.hxrun(&["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    for command in ["run", "validate", "report", "compare", "completions", "man"] {
        assert!(bash.stdout.contains(command), "bash completion lacks {command}");
    }
    let script = ws.write("hxrun.bash", &bash.stdout);
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
    assert!(ws.hxrun(&["completions", "zsh"]).stdout.starts_with("#compdef hxrun"));
    assert!(ws.hxrun(&["completions", "fish"]).stdout.contains("complete -c hxrun"));
    assert_eq!(ws.hxrun(&["completions", "tcsh"]).code, 2, "an unknown shell is a usage error");
}

#[test]
fn man_pages_come_from_the_command_line_definition() {
    let ws = Workspace::new();
    let page = ws.hxrun(&["man"]);
    assert_eq!(page.code, 0);
    assert!(page.stdout.contains(".TH hxrun 1") && page.stdout.contains("compare"), "{}", page.stdout);
    let run = ws.hxrun(&["man", "--dir", "man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in ["hxrun.1", "hxrun-run.1", "hxrun-compare.1"] {
        let text = std::fs::read_to_string(ws.path().join("man").join(file)).unwrap();
        assert!(text.contains(".TH"), "{file}");
    }
}

#[test]
fn ci_examples_parse_and_run_hxrun_from_the_image() {
    let dir = common::repo().join("examples/ci");
    for name in ["gitlab-ci.yml", "github-actions.yml"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let value: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
        assert!(value.is_object(), "{name}");
        assert!(text.contains("docker build"), "{name} builds the image from the Dockerfile");
        assert!(text.contains("suites/phase6.yaml --report-dir reports"), "{name}");
    }
}

#[test]
fn the_dockerfile_builds_the_locked_release_and_leaves_build_outputs_out_of_its_context() {
    let repo = common::repo();
    let dockerfile = std::fs::read_to_string(repo.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked"), "{dockerfile}");
    assert!(dockerfile.contains("FROM debian:bookworm-slim AS ci"), "a target with a shell for CI jobs");
    let last_from = dockerfile.rfind("\nFROM ").unwrap();
    assert!(dockerfile[last_from..].contains("distroless"), "the default (last) stage is the small one");
    assert!(dockerfile[last_from..].contains("ENTRYPOINT [\"/usr/local/bin/hxrun\"]"));
    let ignore = std::fs::read_to_string(repo.join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "{ignore}");
}
