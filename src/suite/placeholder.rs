//! The one reading of `{{...}}` in suite text: `{{name}}` (a `for_each` binding, a field of one
//! with `{{case.field}}`, or `{{captures.NAME}}`), `{{'text'}}` / `{{"text"}}` (that text,
//! literally: `{{'{{'}}` writes a `{{`), and a `{{` never closed, which the plan refuses.

/// One piece of a text, in order; `raw` is the piece as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    /// `{{'text'}}`: `text`.
    Literal {
        text: &'a str,
        raw: &'a str,
    },
    /// `{{ name }}`: `name`, trimmed.
    Name {
        name: &'a str,
        raw: &'a str,
    },
    /// A `{{` with no `}}` after it (the rest of the text).
    Unclosed(&'a str),
}

/// What to say of a `{{` that is never closed.
pub(crate) fn unclosed_message(rest: &str) -> String {
    let shown: String = rest.chars().take(40).collect();
    format!(
        "`{shown}` opens a placeholder with `{{{{` but never closes it: write `{{{{name}}}}`, or \
         `{{{{'{{{{'}}}}` for a literal `{{{{`"
    )
}

/// The pieces of `s`.
pub(crate) fn scan(s: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let inner = after.trim_start();
        let quoted = inner.chars().next().filter(|c| *c == '\'' || *c == '"').and_then(|q| {
            let body = &inner[1..];
            let close = body.find(q)?;
            let tail = body[close + 1..].trim_start();
            tail.starts_with("}}").then(|| {
                let end = rest.len() - tail.len() + 2;
                (&body[..close], end)
            })
        });
        let (piece, end) = match quoted {
            Some((text, end)) => (Piece::Literal { text, raw: &rest[start..end] }, end),
            None => match after.find("}}") {
                Some(close) => {
                    let end = start + 2 + close + 2;
                    (Piece::Name { name: after[..close].trim(), raw: &rest[start..end] }, end)
                }
                None => {
                    pieces.push(Piece::Unclosed(&rest[start..]));
                    return pieces;
                }
            },
        };
        pieces.push(piece);
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

/// Whether `s` has any `{{`.
pub(crate) fn has_any(s: &str) -> bool {
    s.contains("{{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_literals_and_unclosed() {
        use Piece::*;
        assert_eq!(
            scan("a {{ model }}-{{'{{'}}x}} {{\"'\"}}"),
            [
                Text("a "),
                Name { name: "model", raw: "{{ model }}" },
                Text("-"),
                Literal { text: "{{", raw: "{{'{{'}}" },
                Text("x}} "),
                Literal { text: "'", raw: "{{\"'\"}}" },
            ]
        );
        assert_eq!(scan("{{model}"), [Unclosed("{{model}")]);
        assert_eq!(scan("x {{'a' y}}"), [Text("x "), Name { name: "'a' y", raw: "{{'a' y}}" }]);
        assert_eq!(scan("plain }} text"), [Text("plain }} text")]);
        assert!(unclosed_message("{{model}").contains("`{{'{{'}}` for a literal `{{`"));
    }
}
