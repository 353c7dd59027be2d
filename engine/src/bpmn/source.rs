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

/// Maps byte offsets in decoded text to 1-based lines and character columns, each lookup in
/// O(log n): a binary search for the line, then characters counted from a checkpoint at most
/// [`BLOCK`] bytes back. (Counting from the start of the line made every lookup O(line length),
/// so a whole file on one line took quadratic time.)
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// `chars_before[i]`: how many characters start before byte `i * BLOCK`.
    chars_before: Vec<usize>,
}

/// The distance between character-count checkpoints, in bytes.
const BLOCK: usize = 64;

/// Whether a byte starts a character (is not a UTF-8 continuation byte).
fn starts_char(b: u8) -> bool {
    (b as i8) >= -0x40
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(memchr_all(bytes, b'\n').map(|i| i + 1));
        let mut chars_before = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut count = 0;
        for block in bytes.chunks(BLOCK) {
            chars_before.push(count);
            count += block.iter().filter(|&&b| starts_char(b)).count();
        }
        chars_before.push(count);
        LineIndex {
            text,
            line_starts,
            chars_before,
        }
    }

    /// How many characters start before byte `offset`.
    fn chars_to(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        let base = self.chars_before.get(block).copied().unwrap_or(0);
        let from = block * BLOCK;
        base + self.text.as_bytes()[from.min(offset)..offset]
            .iter()
            .filter(|&&b| starts_char(b))
            .count()
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
        let column = self.chars_to(end) - self.chars_to(start.min(end));
        Pos::new(
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(column + 1).unwrap_or(u32::MAX),
        )
    }
}

fn memchr_all(bytes: &[u8], needle: u8) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(move |(_, b)| **b == needle)
        .map(|(i, _)| i)
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
    fn columns_agree_with_counting_characters_across_blocks() {
        // Multi-byte characters straddle the 64-byte checkpoints on a long line.
        let text = format!("x\n{}", "aæ€😀".repeat(100));
        let index = LineIndex::new(&text);
        for (offset, _) in text.char_indices() {
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            let expected = text[line_start..offset].chars().count() + 1;
            let line = 1 + text[..offset].matches('\n').count();
            assert_eq!(
                index.pos(offset),
                Pos::new(line as u32, expected as u32),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn a_long_single_line_is_indexed_without_quadratic_time() {
        // Regression: each lookup counted characters from the start of its line, so 100,000
        // positions on one 5 MB line meant ~10^11 steps (minutes to hours). Now each lookup looks
        // at most 64 bytes back. The deadline is far above what the fix needs (milliseconds) and
        // far below what the old code needed; the work runs on a thread so an old build fails
        // at the deadline instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let text = "<task id=\"t\"/>".repeat(350_000);
            let index = LineIndex::new(&text);
            let mut last = Pos::new(1, 1);
            for offset in (0..text.len()).step_by(50) {
                last = index.pos(offset);
            }
            let _ = tx.send(last);
        });
        let last = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("100,000 lookups on one long line did not finish in 30 s");
        assert_eq!(last.line, 1);
        assert!(last.column > 4_800_000, "{last:?}");
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
