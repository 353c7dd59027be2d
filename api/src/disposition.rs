//! `Content-Disposition` (RFC 6266): the file name an upload is sent with, and the header a
//! download is answered with.

use crate::error::ApiError;

/// The longest file name kept, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// The file name of `attachment; filename="a.pdf"` (or `filename*=UTF-8''%C3%A6.pdf`, which wins
/// when both are present). Directories are dropped (`../x.pdf` → `x.pdf`); a missing, empty or
/// control-character name is refused.
pub fn filename(header: Option<&str>) -> Result<String, ApiError> {
    let field = || Some("Content-Disposition".to_string());
    let Some(header) = header else {
        return Err(ApiError::bad_request(
            field(),
            "a file upload needs `Content-Disposition: attachment; filename=...`",
        ));
    };
    let mut plain = None;
    let mut extended = None;
    for param in split_params(header).into_iter().skip(1) {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "filename" => plain = Some(unquote(value.trim())),
            "filename*" => extended = decode_extended(value.trim()),
            _ => {}
        }
    }
    let name = extended.or(plain).unwrap_or_default();
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(ApiError::bad_request(
            field(),
            "the Content-Disposition header must name the file: `attachment; filename=\"report.pdf\"`",
        ));
    }
    if name.chars().any(char::is_control) || name.chars().count() > MAX_FILENAME_CHARS {
        return Err(ApiError::bad_request(
            field(),
            format!(
                "the file name must be at most {MAX_FILENAME_CHARS} characters, without control characters"
            ),
        ));
    }
    Ok(name)
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`.
pub fn attachment(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        urlencoding::encode(filename)
    )
}

/// Splits at `;` outside quotes.
fn split_params(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        }
        None => value.to_string(),
    }
}

/// `UTF-8'lang'%C3%A6.pdf` → `æ.pdf` (RFC 8187); other charsets are ignored.
fn decode_extended(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    urlencoding::decode(encoded).ok().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_from_either_form_and_made_safe() {
        let read = |h: &str| filename(Some(h)).unwrap();
        assert_eq!(read("attachment; filename=report.pdf"), "report.pdf");
        assert_eq!(read("attachment; filename=\"a; b.pdf\""), "a; b.pdf");
        assert_eq!(
            read("attachment; filename=\"x.pdf\"; filename*=UTF-8''bl%C3%A5b%C3%A6r.pdf"),
            "blåbær.pdf"
        );
        assert_eq!(read("attachment; filename=\"../../etc/passwd\""), "passwd");
        assert!(filename(None).is_err());
        assert!(filename(Some("attachment")).is_err());
        assert!(filename(Some("attachment; filename=\"a\u{7}b\"")).is_err());
    }

    #[test]
    fn downloads_name_the_file_in_ascii_and_utf8() {
        assert_eq!(
            attachment("blåbær \"x\".pdf"),
            "attachment; filename=\"bl_b_r _x_.pdf\"; filename*=UTF-8''bl%C3%A5b%C3%A6r%20%22x%22.pdf"
        );
    }
}
