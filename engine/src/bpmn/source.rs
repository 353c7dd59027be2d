//! Turning raw bytes into UTF-8 text, and byte offsets into lines and columns.

use super::diagnostic::{Code, Diagnostic, Pos};
use std::borrow::Cow;

/// Decodes a file to UTF-8: strips a byte-order mark, honours UTF-16 marks and the encoding the
/// XML declaration names (BPMN tools still write ISO-8859-1), and refuses bytes that are not
/// valid in that encoding with the line and column of the first bad byte.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Diagnostic> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let encoding = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        if had_errors {
            return Err(Diagnostic::error(
                Code::Encoding,
                Pos::new(1, 1),
                format!("the file is not valid {}", encoding.name()),
            ));
        }
        return Ok(Cow::Owned(text.into_owned()));
    }
    match declared_encoding(bytes) {
        None => utf8(bytes),
        Some(label) => {
            let Some(encoding) = encoding_rs::Encoding::for_label(label.as_bytes()) else {
                return Err(Diagnostic::error(
                    Code::Encoding,
                    Pos::new(1, 1),
                    format!("unknown encoding `{label}` in the XML declaration"),
                )
                .hint("save the file as UTF-8"));
            };
            if encoding == encoding_rs::UTF_8 {
                return utf8(bytes);
            }
            let (text, _, had_errors) = encoding.decode(bytes);
            if had_errors {
                return Err(Diagnostic::error(
                    Code::Encoding,
                    Pos::new(1, 1),
                    format!("the file is not valid {}", encoding.name()),
                ));
            }
            Ok(Cow::Owned(text.into_owned()))
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // The valid prefix is UTF-8 by construction; count lines and characters in it.
            let prefix = String::from_utf8_lossy(valid);
            let pos = LineIndex::new(&prefix).pos(prefix.len());
            Err(Diagnostic::error(
                Code::Encoding,
                pos,
                format!(
                    "invalid UTF-8: byte 0x{:02X} at offset {} cannot start or continue a character",
                    bytes.get(e.valid_up_to()).copied().unwrap_or(0),
                    e.valid_up_to()
                ),
            )
            .hint("save the file as UTF-8, or declare its real encoding in <?xml encoding=\"...\"?>"))
        }
    }
}

/// The `encoding` pseudo-attribute of the XML declaration, if the file starts with one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.get(..bytes.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].to_string())
}

/// Maps byte offsets in decoded text to 1-based lines and character columns.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, line_starts }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text.get(start..end).map_or(0, |s| s.chars().count());
        Pos::new(
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(column + 1).unwrap_or(u32::MAX),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters_not_bytes() {
        let text = "ab\næø<x/>\n";
        let index = LineIndex::new(text);
        assert_eq!(index.pos(0), Pos::new(1, 1));
        assert_eq!(index.pos(3), Pos::new(2, 1));
        let lt = text.find('<').unwrap();
        assert_eq!(index.pos(lt), Pos::new(2, 3));
    }

    #[test]
    fn latin1_declared_files_are_transcoded() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a n=\"\xE6\"/>";
        let text = decode(bytes).unwrap();
        assert!(text.contains("n=\"æ\""));
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let bytes = b"<?xml version=\"1.0\"?>\n<a>\n  \xFF</a>";
        let err = decode(bytes).unwrap_err();
        assert_eq!(err.code, Code::Encoding);
        assert_eq!(err.pos(), Pos::new(3, 3));
    }

    #[test]
    fn bom_is_stripped() {
        let text = decode(b"\xEF\xBB\xBF<a/>").unwrap();
        assert_eq!(text, "<a/>");
    }
}
