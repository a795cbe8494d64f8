//! `hxrun init` and `hxrun schema --write`: put the suite schema, and a starter suite whose
//! modeline points at it, into a user's own repository — editors then complete and check
//! suites there as they do in this one.

use super::InitArgs;
use crate::exit;
use std::path::Path;

/// The schema file's name beside a user's suites.
pub(super) const SCHEMA_FILE: &str = "hxrun.schema.json";

/// Writes the schema to `path`, creating its folder.
pub(super) fn write_schema(path: &Path) -> u8 {
    let written = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| crate::files::write(path, super::schema_text() + "\n"));
    match written {
        Ok(()) => {
            println!("wrote {}", path.display());
            exit::PASSED
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit::INTERNAL
        }
    }
}

pub(super) fn init(args: &InitArgs) -> u8 {
    let suite = args.dir.join(&args.name);
    let schema = args.dir.join(SCHEMA_FILE);
    if suite.exists() && !args.force {
        eprintln!("error: {} exists: choose another --name, or --force to replace it", suite.display());
        return exit::INVALID;
    }
    let code = write_schema(&schema);
    if code != exit::PASSED {
        return code;
    }
    let models: Vec<String> =
        if args.models.is_empty() { vec!["phi3:latest".to_string()] } else { args.models.clone() };
    let text = starter(&args.target, args.api.as_deref().unwrap_or("ollama"), &models);
    if let Err(e) = crate::files::write(&suite, text) {
        eprintln!("error: cannot write {}: {e}", suite.display());
        return exit::INTERNAL;
    }
    println!("wrote {}", suite.display());
    println!("next: hxrun validate {0}   then   hxrun {0}", suite.display());
    exit::PASSED
}

/// A starter suite: the server answers, lists the models, and each model gives an exact
/// answer in both stream modes — the checks every deployment needs first.
fn starter(target: &str, api: &str, models: &[String]) -> String {
    use crate::suite::emit;
    let list = models.iter().map(|m| emit::scalar(m)).collect::<Vec<_>>().join(", ");
    let url = emit::env_default("OLLAMA_HOST", target);
    let api = emit::scalar(api);
    let smoke = if api == "openai" {
        "  - name: the server lists its models\n    tags: [smoke]\n    http: { path: /v1/models }\n    expect: { json: { $.data: { type: array } } }\n"
            .to_string()
    } else {
        "  - name: the server answers\n    tags: [smoke]\n    http: { path: / }\n    expect: { status: 200, body: { equals: Ollama is running } }\n\n  - name: the version is reported\n    tags: [smoke]\n    http: { path: /api/version }\n    expect: { json: { $.version: { matches: '^\\d+\\.\\d+' } } }\n"
            .to_string()
    };
    format!(
        r#"# yaml-language-server: $schema=./{SCHEMA_FILE}
#
# Made by `hxrun init`: the first checks of an LLM server. Edit freely — your editor completes
# and checks this file against {SCHEMA_FILE}. Run: hxrun {{this file}} (or with --sim to try it
# against hxrun's built-in simulator).
suite: starter
target:
  url: {url}
  api: {api}
vars:
  models: [{list}]   # add a model here and every model test runs for it too
defaults:
  timeout: 30s

tests:
{smoke}
  - name: every model is installed
    tags: [models]
    models: {{ present: "${{models}}" }}

  - name: exact answer from {{{{model}}}} (stream={{{{stream}}}})
    tags: [inference]
    for_each: {{ model: "${{models}}", stream: [false, true] }}
    generate:
      model: "{{{{model}}}}"
      prompt: "Return exactly the text: HX-OK"
      stream: "{{{{stream}}}}"
      options: {{ temperature: 0, num_predict: 16 }}
    expect:
      text: {{ contains: HX-OK }}
      metrics: {{ e2e: "< 30s" }}
"#
    )
}
