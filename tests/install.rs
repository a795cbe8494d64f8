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
