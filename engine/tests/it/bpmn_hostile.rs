//! Hostile and broken input: refused with a clear diagnostic (code, line, column), never a panic.

use crate::support::*;
use flyt_engine::bpmn::{self, Code, Limits, Options};

fn first(text: &[u8]) -> flyt_engine::bpmn::Diagnostic {
    let err = bpmn::compile(text, &Options::default()).expect_err("must be refused");
    err.diagnostics.into_iter().next().unwrap()
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let text = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">&lol2;</process></definitions>"#;
    let d = first(text);
    assert_eq!(d.code, Code::Doctype);
    assert_eq!(d.line, 2);
}

#[test]
fn external_entity_is_refused() {
    let text = br#"<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="&xxe;"/></process></definitions>"#;
    assert_eq!(first(text).code, Code::Doctype);
}

#[test]
fn undefined_entity_without_doctype_is_refused() {
    let text = doc("<task id=\"t\" name=\"&passwd;\"/>");
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::UndefinedEntity, "{d:?}");
    assert_eq!(d.line, line_of(&text, "&passwd;"));
    let text = doc("<task id=\"t\">&passwd;</task>");
    assert_eq!(first(text.as_bytes()).code, Code::UndefinedEntity);
}

#[test]
fn deep_nesting_stops_at_the_depth_limit() {
    let depth = 100_000;
    let mut text = String::from(&HEAD[..HEAD.find("<process").unwrap()]);
    text.push_str(&"<a>".repeat(depth));
    text.push_str(&"</a>".repeat(depth));
    text.push_str("</definitions>");
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::LimitExceeded);
    assert!(d.message.contains("64"), "{}", d.message);
}

#[test]
fn a_50_mb_attribute_is_refused_by_the_size_limit() {
    let text = doc(&format!(
        "<task id=\"t\" name=\"{}\"/>",
        "x".repeat(50 * 1024 * 1024)
    ));
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::LimitExceeded);
    assert!(d.message.contains("bytes"));
}

#[test]
fn a_long_attribute_under_the_size_limit_is_refused_by_the_attribute_limit() {
    let text = doc(&format!(
        "<task id=\"t\" name=\"{}\"/>",
        "x".repeat(100 * 1024)
    ));
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::LimitExceeded);
    assert_eq!(d.line, line_of(&text, "<task id=\"t\""));
}

#[test]
fn two_hundred_thousand_attributes_are_refused() {
    let attrs: String = (0..200_000).map(|i| format!(" a{i}=\"\"")).collect();
    let text = doc(&format!("<task id=\"t\"{attrs}/>"));
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::LimitExceeded);
    assert!(d.message.contains("attributes"), "{}", d.message);
}

#[test]
fn duplicate_attributes_are_malformed_xml() {
    let text = doc("<task id=\"t\" id=\"u\"/>");
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::XmlSyntax);
    assert_eq!(d.line, line_of(&text, "<task id=\"t\" id=\"u\"/>"));
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let mut bytes = doc("<task id=\"t\" name=\"ok\"/>").into_bytes();
    let at = bytes.windows(2).position(|w| w == b"ok").unwrap();
    bytes[at] = 0xC3;
    bytes[at + 1] = 0x28;
    let d = first(&bytes);
    assert_eq!(d.code, Code::Encoding);
    assert_eq!(d.line, 4);
    assert_eq!(d.column, 20);
}

#[test]
fn truncated_file_says_which_element_is_open() {
    let text = doc("<task id=\"t\"/>");
    let truncated = &text[..text.find("</process>").unwrap()];
    let d = first(truncated.as_bytes());
    assert_eq!(d.code, Code::XmlSyntax);
    assert!(
        d.message.contains("<process> opened at line 3"),
        "{}",
        d.message
    );
}

#[test]
fn mismatched_tag_has_line_and_column() {
    let text = doc("<task id=\"t\"></tsak>");
    let d = first(text.as_bytes());
    assert_eq!(d.code, Code::XmlSyntax);
    assert_eq!(d.line, line_of(&text, "</tsak>"));
}

#[test]
fn binary_garbage_and_empty_input() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let d = first(&garbage);
    assert!(matches!(d.code, Code::Encoding | Code::XmlSyntax), "{d:?}");
    assert_eq!(first(b"").code, Code::XmlSyntax);
    assert_eq!(first(b"   \n  ").code, Code::XmlSyntax);
}

#[test]
fn too_many_elements_are_refused() {
    let body: String = (0..2000)
        .map(|i| format!("<documentation>{i}</documentation>"))
        .collect();
    let text = doc(&body);
    let limits = Limits::default().with_max_elements(1000);
    let err = bpmn::compile(text.as_bytes(), &Options::default().with_limits(limits)).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::LimitExceeded);
}

#[test]
fn utf16_and_latin1_files_are_read() {
    let text = doc(r#"<startEvent id="start"/><endEvent id="end" name="slutt æøå"/><sequenceFlow id="f" sourceRef="start" targetRef="end"/>"#)
        .replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert!(bpmn::compile(&utf16, &Options::default()).is_ok());
    let latin = doc(r#"<startEvent id="start"/><endEvent id="end" name="slutt ÆØÅ"/><sequenceFlow id="f" sourceRef="start" targetRef="end"/>"#)
        .replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&latin);
    let def = bpmn::compile(&bytes, &Options::default())
        .expect("latin-1")
        .definition;
    assert_eq!(
        def.node(def.node_by_id("end").unwrap()).name.as_deref(),
        Some("slutt ÆØÅ")
    );
}
