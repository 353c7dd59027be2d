//! Content types of files: what a data type accepts, and whether the bytes are what the
//! content type says (their signature, sniffed with `infer` from the first bytes), so that an
//! `.exe` sent as `application/pdf` is refused.

use super::Error;
use crate::app::DataTypeSpec;

/// The media type without parameters, lower-case: `Text/Plain; charset=utf-8` → `text/plain`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether the data type accepts `content_type` (its `allowed_content_types`, exact or as
/// `type/*`; an empty list accepts any).
pub fn check_allowed(spec: &DataTypeSpec, content_type: &str) -> Result<(), Error> {
    let declared = essence(content_type);
    let allowed = &spec.allowed_content_types;
    let ok = allowed.is_empty()
        || allowed.iter().any(|a| {
            let a = essence(a);
            a == declared
                || a.strip_suffix("/*")
                    .is_some_and(|major| declared.split('/').next() == Some(major))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::ContentTypeNotAllowed {
            data_type: spec.id.to_string(),
            content_type: declared,
            allowed: allowed.clone(),
        })
    }
}

/// Names by which one format is sent, mapped to the name `infer` reports.
fn canonical(mime: &str) -> &str {
    match mime {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "application/x-zip-compressed" | "application/x-zip" => "application/zip",
        "application/x-pdf" => "application/pdf",
        "text/xml" => "application/xml",
        "application/x-msdownload" | "application/x-dosexec" => {
            "application/vnd.microsoft.portable-executable"
        }
        other => other,
    }
}

/// Formats stored as a ZIP archive: a client may name the archive's own type.
fn is_zip_based(mime: &str) -> bool {
    mime.starts_with("application/vnd.openxmlformats-officedocument.")
        || mime.starts_with("application/vnd.oasis.opendocument.")
        || mime == "application/epub+zip"
        || mime == "application/java-archive"
}

/// Checks the bytes' signature (`head`: the first bytes) against the declared content type.
/// Refused: bytes of a recognised format other than the declared one, and a declared format
/// whose signature is known but absent. `application/octet-stream` (unknown bytes) takes any.
pub fn check_signature(content_type: &str, head: &[u8]) -> Result<(), Error> {
    let declared = essence(content_type);
    if declared == "application/octet-stream" {
        return Ok(());
    }
    let declared_canonical = canonical(&declared);
    match infer::get(head) {
        Some(kind) => {
            let detected = canonical(kind.mime_type());
            let same = detected == declared_canonical
                || (detected == "application/zip" && is_zip_based(declared_canonical));
            if same {
                Ok(())
            } else {
                Err(Error::ContentMismatch {
                    content_type: declared,
                    detected: format!("`{}` (.{})", kind.mime_type(), kind.extension()),
                })
            }
        }
        None if infer::is_mime_supported(declared_canonical) => Err(Error::ContentMismatch {
            content_type: declared,
            detected: "not in that format (its signature is missing)".into(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
    const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

    #[test]
    fn signatures_must_match_the_declared_type() {
        assert!(check_signature("application/pdf", PDF).is_ok());
        assert!(check_signature("Application/PDF; name=x", PDF).is_ok());
        assert!(check_signature("image/png", PNG).is_ok());
        assert!(check_signature("text/plain", b"hello, world").is_ok());
        assert!(check_signature("application/octet-stream", EXE).is_ok());
        assert!(matches!(
            check_signature("application/pdf", EXE),
            Err(Error::ContentMismatch { .. })
        ));
        assert!(matches!(
            check_signature("text/plain", EXE),
            Err(Error::ContentMismatch { .. })
        ));
        // A PDF without its signature is not a PDF.
        assert!(matches!(
            check_signature("application/pdf", b"just text"),
            Err(Error::ContentMismatch { .. })
        ));
    }

    #[test]
    fn allowed_types_match_exactly_or_by_major_type() {
        let mut spec = DataTypeSpec::new("attachments");
        assert!(check_allowed(&spec, "anything/at-all").is_ok());
        spec.allowed_content_types = vec!["application/pdf".into(), "image/*".into()];
        assert!(check_allowed(&spec, "application/pdf").is_ok());
        assert!(check_allowed(&spec, "image/png").is_ok());
        let err = check_allowed(&spec, "text/plain").unwrap_err();
        assert!(
            err.to_string().contains("application/pdf, image/*"),
            "{err}"
        );
    }
}
