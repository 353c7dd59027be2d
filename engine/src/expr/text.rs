//! The text form: comments, trailing commas and the nesting limit, then serde_json.

use serde_json::Value;

use super::parse::parse_value;
use super::{MAX_DEPTH, Node, ParseError};

/// Parses the text of an expression (see [`Expr::parse`](super::Expr::parse)).
pub(crate) fn parse_text(text: &str) -> Result<Node, ParseError> {
    let cleaned = strip_comments_and_check_depth(text)?;
    if cleaned.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let value: Value = serde_json::from_str(&cleaned).map_err(json_error)?;
    parse_value(&value)
}

fn json_error(e: serde_json::Error) -> ParseError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ParseError::InvalidJson {
        line,
        column,
        message,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn line_col(text: &str, offset: usize) -> String {
    let (line, column) = position(text, offset);
    if line == 1 {
        format!("column {column}")
    } else {
        format!("line {line}, column {column}")
    }
}

/// Blanks out `//` and `/* */` comments and trailing commas (keeping every other byte where it is, so
/// serde_json's positions stay right), and rejects nesting deeper than [`MAX_DEPTH`] before serde_json
/// (whose own limit is 128) sees it.
fn strip_comments_and_check_depth(text: &str) -> Result<String, ParseError> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, i: usize| {
        if let Some(b) = out.get_mut(i) {
            *b = b' ';
        }
    };
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    // The last two significant (non-whitespace, non-comment) bytes, for spotting trailing commas.
    let (mut last, mut before_last): (Option<usize>, Option<usize>) = (None, None);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                (before_last, last) = (last, Some(i));
            }
            i += 1;
            continue;
        }
        match (b, bytes.get(i + 1)) {
            (b'/', Some(b'/')) => {
                while let Some(&c) = bytes.get(i) {
                    if c == b'\n' {
                        break;
                    }
                    blank(&mut out, i);
                    i += 1;
                }
                continue;
            }
            (b'/', Some(b'*')) => {
                let start = i;
                blank(&mut out, i);
                blank(&mut out, i + 1);
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => {
                            let (line, column) = position(text, start);
                            return Err(ParseError::InvalidJson {
                                line,
                                column,
                                message: "unterminated /* comment".to_owned(),
                            });
                        }
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            blank(&mut out, i);
                            blank(&mut out, i + 1);
                            i += 2;
                            break;
                        }
                        Some(b'\n') => i += 1,
                        Some(_) => {
                            blank(&mut out, i);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            (b' ' | b'\t' | b'\n' | b'\r', _) => {}
            (b'[' | b'{', _) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::TooDeep {
                        at: line_col(text, i),
                    });
                }
                (before_last, last) = (last, Some(i));
            }
            (b']' | b'}', _) => {
                depth = depth.saturating_sub(1);
                let byte_at = |j: Option<usize>| j.and_then(|j| bytes.get(j)).copied();
                let follows_value =
                    !matches!(byte_at(before_last), None | Some(b'[' | b'{' | b','));
                if let Some(comma) = last
                    && bytes.get(comma) == Some(&b',')
                    && follows_value
                {
                    blank(&mut out, comma);
                }
                (before_last, last) = (last, Some(i));
            }
            (b'"', _) => {
                in_string = true;
                (before_last, last) = (last, Some(i));
            }
            _ => (before_last, last) = (last, Some(i)),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ParseError::InvalidJson {
        line: 1,
        column: 1,
        message: "invalid UTF-8".to_owned(),
    })
}
