//! Masking secrets in text, in every encoding they can take. Two layers use it: the executor
//! masks what it records (`execute::redact`), and every byte a reporter writes — console,
//! JUnit, CSVs, report.json, the event log, perf and GPU CSVs — passes through it again on its
//! way out (`report::Output`), so no reporter, and no future one, can leak a secret, whichever
//! field it sits in (a test name made from a `for_each` value, a url, a message).
//!
//! A secret is masked as `***` in every form an output can hold it: raw; JSON-escaped;
//! Rust-debug-escaped (messages quote values that way); XML-escaped; CSV-quoted; those
//! escapes of the escaped forms (a quoted value inside a CSV cell or a JSON string); base64
//! at each of the three byte alignments (a Basic auth header, `user:secret`, holds it
//! shifted), standard and URL-safe; and percent-encoded in any mix of encoded and plain
//! characters (`%41%20x`), found by decoding the text and mapping the match back.

use std::borrow::Cow;
use std::collections::BTreeSet;

const MASK: &str = "***";
/// Shorter secrets are not masked: they would mask ordinary text everywhere.
pub(crate) const MIN_SECRET: usize = 3;

#[derive(Debug, Clone, Default)]
pub(crate) struct Mask {
    /// Every literal form of every secret, longest first.
    forms: Vec<String>,
    /// The secrets' bytes, for the percent-decoded view.
    raw: Vec<Vec<u8>>,
}

impl Mask {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let secrets: BTreeSet<String> = secrets.into_iter().filter(|s| s.len() >= MIN_SECRET).collect();
        let mut forms = BTreeSet::new();
        for s in &secrets {
            forms.insert(s.clone());
            // The escaped forms, and those escaped once more by the file they end up in.
            for inner in [s.clone(), json_escaped(s), s.escape_debug().to_string()] {
                forms.insert(json_escaped(&inner));
                forms.insert(xml_escaped(&inner));
                forms.insert(html_escaped(&inner, "'"));
                forms.insert(html_escaped(&inner, "&#39;"));
                forms.insert(inner.replace('"', "\"\""));
                forms.insert(inner);
            }
            for upper in [true, false] {
                forms.insert(percent_encoded(s, upper, false));
                forms.insert(percent_encoded(s, upper, true));
            }
            forms.extend(base64_forms(s.as_bytes()));
        }
        let mut forms: Vec<String> = forms.into_iter().filter(|f| f.len() >= MIN_SECRET).collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Mask { forms, raw: secrets.into_iter().map(String::into_bytes).collect() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The text with every form of every secret replaced by `***`.
    /// Borrowed when there is nothing to mask: a run without secrets (and every perf CSV row
    /// of it) pays no copy.
    pub(crate) fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.is_empty() || !self.may_hold_a_secret(text) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), MASK);
            }
        }
        // In a path `+` is itself; in a query or form it is a space: look at both readings.
        if out.contains('%') {
            out = self.decoded_pass(&out, false).unwrap_or(out);
        }
        if out.contains('+') {
            out = self.decoded_pass(&out, true).unwrap_or(out);
        }
        Cow::Owned(out)
    }

    /// False only when no form of any secret can be in `text`: none appears literally and
    /// the text has nothing percent- or plus-encoded that could hide one.
    fn may_hold_a_secret(&self, text: &str) -> bool {
        text.contains(['%', '+']) || self.forms.iter().any(|f| text.contains(f.as_str()))
    }

    /// Masks secrets that appear once `%XX` (and with `plus`, `+` as a space) are decoded;
    /// None when there are none.
    fn decoded_pass(&self, text: &str, plus: bool) -> Option<String> {
        let b = text.as_bytes();
        let (mut decoded, mut from) = (Vec::with_capacity(b.len()), Vec::with_capacity(b.len()));
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            match b[i] {
                b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        decoded.push((h * 16 + l) as u8);
                        from.push((i, i + 3));
                        i += 3;
                        continue;
                    }
                    _ => decoded.push(b'%'),
                },
                b'+' if plus => decoded.push(b' '),
                c => decoded.push(c),
            }
            from.push((i, i + 1));
            i += 1;
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for secret in &self.raw {
            let mut start = 0;
            while let Some(p) = find(&decoded[start..], secret) {
                let (s, e) = (start + p, start + p + secret.len());
                ranges.push((from[s].0, from[e - 1].1));
                start = e;
            }
        }
        if ranges.is_empty() {
            return None;
        }
        ranges.sort_unstable();
        let mut out = Vec::with_capacity(b.len());
        let mut at = 0;
        for (s, e) in ranges {
            if e <= at {
                continue;
            }
            out.extend_from_slice(&b[at..s.max(at)]);
            out.extend_from_slice(MASK.as_bytes());
            at = e;
        }
        out.extend_from_slice(&b[at..]);
        // Only whole %XX sequences and ASCII were replaced: the rest is the text's own UTF-8.
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn json_escaped(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string serializes");
    json[1..json.len() - 1].to_string()
}

fn xml_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// HTML's escaping of text and attribute values (maud's leaves `'` as it is; the SVG charts
/// write `&#39;`).
fn html_escaped(s: &str, apostrophe: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', apostrophe)
}

/// Every byte outside the unreserved set as `%XX`; with `plus`, a space as `+`.
fn percent_encoded(s: &str, upper: bool, plus: bool) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if plus && b == b' ' {
            out.push('+');
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The base64 characters that depend on the secret alone, at each of the three alignments it
/// can have inside a longer encoded value, in both alphabets.
/// Standard base64 with padding (what a Basic-auth header carries).
pub(crate) fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn base64_forms(secret: &[u8]) -> Vec<String> {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        bytes.extend_from_slice(&[0, 0]);
        let bits = |k: usize| -> u8 {
            // The 6-bit group k of the byte string.
            let bit = k * 6;
            let (byte, shift) = (bit / 8, bit % 8);
            let word = (u16::from(bytes[byte]) << 8) | u16::from(*bytes.get(byte + 1).unwrap_or(&0));
            ((word >> (10 - shift)) & 0x3f) as u8
        };
        // Characters wholly inside the secret's bits.
        let first = (offset * 8).div_ceil(6);
        let end = ((offset + secret.len()) * 8) / 6;
        if end <= first || end - first < 4 {
            continue;
        }
        for alphabet in [STD, URL] {
            out.push((first..end).map(|k| alphabet[bits(k) as usize] as char).collect());
        }
    }
    out
}

impl Mask {
    /// Masks every string, and every key, inside a JSON value; whether anything changed.
    pub(crate) fn apply_json(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.apply(s) {
                Cow::Owned(masked) if masked != *s => {
                    *s = masked;
                    true
                }
                _ => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, v| self.apply_json(v) | changed),
            Value::Object(map) => {
                let mut changed = false;
                for (k, mut v) in std::mem::take(map) {
                    changed |= self.apply_json(&mut v);
                    let key = self.apply(&k).into_owned();
                    changed |= key != k;
                    map.insert(key, v);
                }
                changed
            }
            _ => false,
        }
    }
}

/// The run's secrets, one registry: the plans fill it (`secrets:` values, API keys, credential
/// headers), the executor adds each secret a test captures (`secret: true`) the moment it is
/// captured, and every masker reads it — the executor's redactor, every reporter's output, the
/// perf samples files — so a secret learned mid-run is masked everywhere from then on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets(std::sync::Arc<std::sync::RwLock<Known>>);

#[derive(Debug, Default)]
struct Known {
    secrets: BTreeSet<String>,
    mask: std::sync::Arc<Mask>,
}

impl Secrets {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let s = Secrets::default();
        s.add(secrets);
        s
    }

    /// Masks these too from now on (ones already known change nothing).
    pub(crate) fn add(&self, secrets: impl IntoIterator<Item = String>) {
        let mut known = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = known.secrets.len();
        known.secrets.extend(secrets.into_iter().filter(|s| s.len() >= MIN_SECRET));
        if known.secrets.len() != before {
            known.mask = std::sync::Arc::new(Mask::new(known.secrets.iter().cloned()));
        }
    }

    /// The mask of every secret known now.
    pub(crate) fn mask(&self) -> std::sync::Arc<Mask> {
        std::sync::Arc::clone(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).mask)
    }

    /// The text with every secret known now masked.
    pub(crate) fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.mask().apply(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("ops:pw", "b3BzOnB3"),
        ];
        for (text, want) in cases {
            assert_eq!(base64(text.as_bytes()), want);
        }
    }

    /// Standard base64 (for the test only).
    fn b64(data: &[u8]) -> String {
        const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk.len();
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                out.push(if i <= n { STD[((v >> (18 - 6 * i)) & 0x3f) as usize] as char } else { '=' });
            }
        }
        out
    }

    #[test]
    fn html_as_maud_and_the_svg_charts_escape_it_is_masked() {
        let secret = "it's <a> \"b\" & c";
        let m = Mask::new([secret.to_string()]);
        let page = maud::html! { td title=(secret) { (secret) } }.into_string();
        let chart = format!("<text>{}</text>", html_escaped(secret, "&#39;"));
        for text in [page, chart] {
            assert!(!m.apply(&text).contains("b&quot;"), "{text} → {}", m.apply(&text));
        }
    }

    #[test]
    fn every_encoding_of_a_secret_is_masked() {
        let secret = "s3cr3t <&> \"q\" a/b+c é";
        let m = Mask::new([secret.to_string()]);
        let json = serde_json::to_string(secret).unwrap();
        let debug_in_csv =
            format!("\"got \"\"{}\"\"\"", secret.escape_debug().to_string().replace('"', "\"\""));
        let cases = [
            debug_in_csv,
            format!("{{\"message\":{}}}", serde_json::to_string(&format!("got {secret:?}")).unwrap()),
            format!("key {secret} end"),
            format!("{{\"k\":{json}}}"),
            format!("<x a=\"{}\"/>", xml_escaped(secret)),
            format!("GET /x?k={}", percent_encoded(secret, true, true)),
            format!("GET /x/{}", percent_encoded(secret, false, false)),
            // A path keeps `/`, `&` and `+` as they are.
            "POST /nope/s3cr3t%20%3C&%3E%20%22q%22%20a/b+c%20%C3%A9?x=1".to_string(),
            // A mix of encoded and plain characters, letters encoded too.
            "GET /x?k=%73%33cr3t%20%3C%26%3E+%22q%22+a%2Fb%2Bc+%C3%A9&z=1".to_string(),
            format!("cell,\"{}\",x", secret.replace('"', "\"\"")),
        ];
        for text in cases {
            let out = m.apply(&text);
            assert!(out.contains("***"), "not masked: {text} -> {out}");
            assert!(!out.contains("s3cr3t") && !out.contains("%73%33cr3t"), "{out}");
        }
        for prefix in ["", "u:", "us:", "use:"] {
            let header = format!("Authorization: Basic {}", b64(format!("{prefix}{secret}").as_bytes()));
            let out = m.apply(&header);
            assert!(out.contains("***"), "base64 at offset {}: {header} -> {out}", prefix.len());
        }
        assert_eq!(m.apply("nothing secret here, 100% sure + more"), "nothing secret here, 100% sure + more");
    }

    #[test]
    fn no_secrets_no_change_and_short_ones_ignored() {
        assert_eq!(Mask::new(Vec::new()).apply("a%20b"), "a%20b");
        assert_eq!(Mask::new(["ab".to_string()]).apply("ab cd"), "ab cd");
    }

    #[test]
    fn a_secret_added_to_the_registry_is_masked_by_every_holder_from_then_on() {
        let plan = Secrets::new(["sk-plan-key".to_string()]);
        let reporter = plan.clone();
        assert_eq!(reporter.apply("sk-plan-key token-42x"), "*** token-42x");
        plan.add(["token-42x".to_string(), "ab".to_string()]);
        assert_eq!(reporter.apply("sk-plan-key token-42x ab"), "*** *** ab", "too short to mask: ab");
    }
}
