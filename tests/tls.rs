//! https:// targets like curl: a private CA (--cacert, target.tls.ca_cert, SSL_CERT_FILE),
//! client certificates for mutual TLS, a loud --insecure, TLS failures in words.

mod common;

use common::tls::{Pki, TlsFront};
use common::{Sim, Workspace};

const TEST: &str = "  - name: answers over TLS\n    generate: { model: phi3:latest, prompt: \"Return exactly the text: HX-OK\", stream: true }\n    expect: { text: { equals: HX-OK } }\n";

fn setup(require_client_cert: bool) -> (Sim, TlsFront, Pki, Workspace) {
    let sim = Sim::fast();
    let pki = Pki::new();
    let front = TlsFront::start(sim.url.trim_start_matches("http://"), &pki, require_client_cert);
    let ws = Workspace::new();
    ws.write("ca.pem", &pki.ca);
    ws.write("client.pem", &pki.client_cert);
    ws.write("client.key", &pki.client_key);
    (sim, front, pki, ws)
}

fn suite(url: &str, tls: &str) -> String {
    format!("suite: tls\ntarget: {{ url: \"{url}\"{tls} }}\ntests:\n{TEST}")
}

#[test]
fn a_private_ca_is_trusted_from_the_command_line_the_suite_or_ssl_cert_file() {
    let (_sim, front, _pki, ws) = setup(false);
    ws.write("s.yaml", &suite(&front.url, ""));
    let untrusted = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(untrusted.code, 1, "{}", untrusted.stdout);
    assert!(
        untrusted.stdout.contains(
            "the server's certificate is signed by a CA hxrun does not trust: give that CA with --cacert"
        ),
        "{}",
        untrusted.stdout
    );
    let flag = ws.hxrun(&["s.yaml", "--no-progress", "--cacert", "ca.pem"]);
    assert_eq!(flag.code, 0, "{}\n{}", flag.stdout, flag.stderr);
    let env = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("SSL_CERT_FILE", "ca.pem")]);
    assert_eq!(env.code, 0, "{}\n{}", env.stdout, env.stderr);
    std::fs::create_dir(ws.path().join("suites")).unwrap();
    std::fs::copy(ws.path().join("ca.pem"), ws.path().join("suites/ca.pem")).unwrap();
    ws.write("suites/s.yaml", &suite(&front.url, ", tls: { ca_cert: ca.pem }"));
    let in_suite = ws.hxrun(&["suites/s.yaml", "--no-progress"]);
    assert_eq!(in_suite.code, 0, "relative to the suite: {}\n{}", in_suite.stdout, in_suite.stderr);
}

#[test]
fn insecure_passes_and_every_report_says_so() {
    let (_sim, front, _pki, ws) = setup(false);
    ws.write("s.yaml", &suite(&front.url, ""));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--insecure"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let warning = "TLS certificate checks are OFF for suite tls";
    assert!(run.stdout.contains(warning), "{}", run.stdout);
    assert!(run.json()["warnings"][0].as_str().unwrap().contains(warning));
    assert!(run.report("report.html").contains(warning));
    assert!(run.report("summary.md").contains(warning));
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let (_sim, front, _pki, ws) = setup(true);
    ws.write("s.yaml", &suite(&front.url, ", tls: { ca_cert: ca.pem }"));
    let without = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(without.code, 1, "{}", without.stdout);
    assert!(without.stdout.contains("FAIL tls › answers over TLS"), "{}", without.stdout);
    // The server's alert, or (TLS 1.3: it comes after the client's handshake is done) only
    // the closed connection, whichever reaches the request first — both say what to do.
    assert!(
        without.stdout.contains("client certificate: give one with --cert FILE --key FILE")
            || without.stdout.contains("client certificate does so — give one with --cert FILE --key FILE"),
        "{}",
        without.stdout
    );
    let with = ws.hxrun(&["s.yaml", "--no-progress", "--cert", "client.pem", "--key", "client.key"]);
    assert_eq!(with.code, 0, "{}\n{}", with.stdout, with.stderr);
}

#[test]
fn https_to_a_plain_port_fails_at_once_and_bad_files_say_which() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let plain = sim.url.replace("http://", "https://");
    ws.write(
        "s.yaml",
        &format!("suite: tls\ntarget: {{ url: \"{plain}\" }}\ndefaults: {{ timeout: 60s }}\ntests:\n{TEST}"),
    );
    let started = std::time::Instant::now();
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "not at the 60 s timeout");
    assert!(
        run.stdout.contains("the server answered in plain HTTP, not TLS: write http://"),
        "{}",
        run.stdout
    );

    ws.write("empty.pem", "not a certificate\n");
    let bad = ws.hxrun(&["s.yaml", "--no-progress", "--cacert", "missing.pem"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.contains("not run: cannot read the CA file (ca_cert, --cacert) missing.pem"),
        "{}",
        bad.stdout
    );
    let empty = ws.hxrun(&["s.yaml", "--no-progress", "--cacert", "empty.pem"]);
    assert!(empty.stdout.contains("empty.pem holds no PEM certificate"), "{}", empty.stdout);
}

#[test]
fn an_unusable_ssl_cert_file_never_stops_a_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url, ""));
    ws.write("junk.pem", "no certificate here\n");
    for bad in ["/nonexistent/ca.pem", "junk.pem"] {
        let run = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("SSL_CERT_FILE", bad)]);
        assert_eq!(run.code, 0, "SSL_CERT_FILE={bad}: {}\n{}", run.stdout, run.stderr);
    }
}

#[test]
fn a_self_signed_ca_used_as_the_server_certificate_is_said_in_words() {
    let sim = Sim::fast();
    let pki = Pki::self_signed_ca_as_server();
    let front = TlsFront::start(sim.url.trim_start_matches("http://"), &pki, false);
    let ws = Workspace::new();
    ws.write("ca.pem", &pki.ca);
    ws.write("s.yaml", &suite(&front.url, ""));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--cacert", "ca.pem"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("the server presents a CA certificate as its own"),
        "rustls' CaUsedAsEndEntity in words: {}",
        run.stdout
    );
}
