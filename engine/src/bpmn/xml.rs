//! A small, bounded XML tree reader on top of quick-xml.
//!
//! quick-xml gives events; BPMN validation wants a tree with namespaces resolved by URI and a
//! source position on every element. This module builds that tree while enforcing [`Limits`],
//! refusing DOCTYPEs and undefined entities, and skipping diagram (`bpmndi`, `dc`, `di`) subtrees
//! without allocating for them. It never recurses, so nesting depth cannot overflow the stack.

use super::Pos;
use super::diagnostic::{Code, Diagnostic};
use super::limits::Limits;
use super::source::LineIndex;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The BPMN 2.0 model namespace.
pub const BPMN_MODEL_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
/// Altinn's process extension namespace.
pub const ALTINN_NS: &str = "http://altinn.no/process";
/// The older Altinn namespace, still written by Altinn Studio's designer templates.
pub const ALTINN_LEGACY_NS: &str = "http://altinn.no";
/// flyt's own extension namespace, for configuration Altinn has no element for. Stable: a
/// breaking change to flyt's extension elements would get a new URN.
pub const FLYT_NS: &str = "urn:flyt:bpmn:1";
/// XML Schema instance namespace (`xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

const DIAGRAM_NAMESPACES: &[&str] = &[
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
];

/// The namespace of an element or attribute, by URI (never by prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    Bpmn,
    /// `http://altinn.no/process` or `http://altinn.no`.
    Altinn,
    Flyt,
    Xsi,
    Other(String),
    /// No namespace (unprefixed attributes, or elements with no default namespace).
    None,
}

impl Ns {
    fn from_uri(uri: &str) -> Ns {
        match uri {
            BPMN_MODEL_NS => Ns::Bpmn,
            ALTINN_NS | ALTINN_LEGACY_NS => Ns::Altinn,
            FLYT_NS => Ns::Flyt,
            XSI_NS => Ns::Xsi,
            other => Ns::Other(other.to_string()),
        }
    }
}

/// One attribute, with its namespace resolved and its value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlAttr {
    pub ns: Ns,
    pub name: String,
    pub value: String,
}

/// One element of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlNode {
    pub ns: Ns,
    /// The local name, without prefix.
    pub name: String,
    /// The qualified name as written (`bpmn:task`), for messages.
    pub qname: String,
    pub attrs: Vec<XmlAttr>,
    /// Character data directly inside this element (CDATA included), with entities resolved.
    pub text: String,
    pub children: Vec<XmlNode>,
    /// Where the element's start tag begins.
    pub pos: Pos,
}

impl XmlNode {
    /// An unprefixed attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == Ns::None && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// A namespaced attribute's value.
    pub fn attr_ns(&self, ns: &Ns, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| &a.ns == ns && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Children in namespace `ns` with local name `name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a Ns,
        name: &'a str,
    ) -> impl Iterator<Item = &'a XmlNode> + 'a {
        self.children
            .iter()
            .filter(move |c| &c.ns == ns && c.name == name)
    }

    /// The first child in namespace `ns` with local name `name`.
    pub fn child(&self, ns: &Ns, name: &str) -> Option<&XmlNode> {
        self.children.iter().find(|c| &c.ns == ns && c.name == name)
    }

    /// The line of the first child with this local name (any namespace), for diagnostics.
    pub fn line_of_child(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.pos.line)
    }

    /// The text content, trimmed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Reads a whole XML file (any XML, not only BPMN: Altinn's `policy.xml` too) into a tree with
/// the same limits and refusals as a BPMN file: size, depth, element and attribute counts, no
/// DOCTYPE, encodings and BOM handled. Fails with one diagnostic (with its line) on the first
/// problem.
pub fn read_document(bytes: &[u8], limits: &Limits) -> Result<XmlNode, Diagnostic> {
    if bytes.len() > limits.max_bytes {
        return Err(Diagnostic::error(
            Code::LimitExceeded,
            Pos::new(1, 1),
            format!(
                "the file is {} bytes; the limit is {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let text = super::source::decode(bytes)?;
    read_tree(&text, limits)
}

/// Reads `text` into a tree. Fails with one diagnostic on the first syntax error or limit.
pub(crate) fn read_tree(text: &str, limits: &Limits) -> Result<XmlNode, Diagnostic> {
    let lines = LineIndex::new(text);
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = false;
        config.expand_empty_elements = false;
    }

    // The open elements; `None` marks an element inside a skipped (diagram) subtree.
    let mut stack: Vec<Option<XmlNode>> = Vec::new();
    let mut root: Option<XmlNode> = None;
    let mut elements = 0usize;
    let mut skipping = 0usize;

    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_resolved_event();
        let (ns, event) = match event {
            Ok((ns, event)) => (resolve(&ns), event),
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(offset);
                return Err(syntax(&lines, at, &e.to_string()));
            }
        };
        match event {
            Event::Start(start) => {
                elements += 1;
                check_element_limits(&lines, offset, elements, stack.len() + 1, limits)?;
                if skipping > 0 || is_diagram(&ns) {
                    skipping += 1;
                    stack.push(None);
                    continue;
                }
                let node = element(&reader, &lines, offset, ns, &start, limits)?;
                stack.push(Some(node));
            }
            Event::Empty(start) => {
                elements += 1;
                check_element_limits(&lines, offset, elements, stack.len() + 1, limits)?;
                if skipping > 0 || is_diagram(&ns) {
                    continue;
                }
                let node = element(&reader, &lines, offset, ns, &start, limits)?;
                attach(&mut stack, &mut root, node, &lines, offset)?;
            }
            Event::End(_) => match stack.pop() {
                Some(None) => skipping = skipping.saturating_sub(1),
                Some(Some(mut node)) => {
                    if node.children.is_empty() {
                        // Leaf text keeps its content; mixed content is whitespace we drop.
                    } else if node.text.trim().is_empty() {
                        node.text.clear();
                    }
                    attach(&mut stack, &mut root, node, &lines, offset)?;
                }
                None => return Err(syntax(&lines, offset, "closing tag without an opening tag")),
            },
            Event::Text(t) => {
                if let Some(Some(node)) = stack.last_mut() {
                    let content = t.xml10_content();
                    // Indentation before a node's first text (or between its children) is not
                    // content: skipping it saves an allocation per element of a large file.
                    if !node.text.is_empty() || !content.trim().is_empty() {
                        push_text(node, &content, limits, &lines, offset)?;
                    }
                } else if !t.xml10_content().trim().is_empty() && stack.is_empty() {
                    return Err(syntax(&lines, offset, "text outside the root element"));
                }
            }
            Event::CData(c) => {
                if let Some(Some(node)) = stack.last_mut() {
                    push_text(node, &c.xml10_content(), limits, &lines, offset)?;
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            return Err(syntax(
                                &lines,
                                offset,
                                &format!("invalid character reference &{};", r.xml10_content()),
                            ));
                        }
                    }
                } else {
                    let name = r.xml10_content();
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(Diagnostic::error(
                                Code::UndefinedEntity,
                                lines.pos(offset),
                                format!("reference to undefined entity &{name};"),
                            )
                            .hint("only &lt; &gt; &amp; &apos; &quot; and character references are allowed"));
                        }
                    }
                };
                if let Some(Some(node)) = stack.last_mut() {
                    push_text(node, &resolved, limits, &lines, offset)?;
                }
            }
            Event::DocType(_) => {
                return Err(Diagnostic::error(
                    Code::Doctype,
                    lines.pos(offset),
                    "a <!DOCTYPE> declaration is not allowed in a BPMN file",
                )
                .hint("DOCTYPEs can define entities (billion laughs, external files); remove it"));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => {
                if let Some(open) = stack.iter().rev().flatten().next() {
                    return Err(Diagnostic::error(
                        Code::XmlSyntax,
                        lines.pos(text.len()),
                        format!(
                            "unexpected end of file: <{}> opened at line {} is not closed",
                            open.qname, open.pos.line
                        ),
                    )
                    .hint("the file looks truncated"));
                }
                if !stack.is_empty() {
                    return Err(syntax(&lines, text.len(), "unexpected end of file"));
                }
                return root.ok_or_else(|| {
                    Diagnostic::error(
                        Code::XmlSyntax,
                        Pos::new(1, 1),
                        "the file contains no XML element",
                    )
                });
            }
        }
    }
}

fn resolve(ns: &ResolveResult<'_>) -> Result<Ns, String> {
    match ns {
        ResolveResult::Bound(uri) => Ok(Ns::from_uri(uri.0)),
        ResolveResult::Unbound => Ok(Ns::None),
        ResolveResult::Unknown(prefix) => Err(prefix.clone()),
    }
}

fn is_diagram(ns: &Result<Ns, String>) -> bool {
    matches!(ns, Ok(Ns::Other(uri)) if DIAGRAM_NAMESPACES.contains(&uri.as_str()))
}

fn check_element_limits(
    lines: &LineIndex<'_>,
    offset: usize,
    elements: usize,
    depth: usize,
    limits: &Limits,
) -> Result<(), Diagnostic> {
    if depth > limits.max_depth {
        return Err(limit(
            lines,
            offset,
            format!("elements nest deeper than {} levels", limits.max_depth),
        ));
    }
    if elements > limits.max_elements {
        return Err(limit(
            lines,
            offset,
            format!("more than {} elements", limits.max_elements),
        ));
    }
    Ok(())
}

fn element(
    reader: &NsReader<&[u8]>,
    lines: &LineIndex<'_>,
    offset: usize,
    ns: Result<Ns, String>,
    start: &BytesStart<'_>,
    limits: &Limits,
) -> Result<XmlNode, Diagnostic> {
    let pos = lines.pos(offset);
    let qname = start.name().as_ref().to_string();
    let ns = ns.map_err(|prefix| {
        Diagnostic::error(
            Code::XmlSyntax,
            pos,
            format!("<{qname}> uses the undeclared namespace prefix `{prefix}`"),
        )
    })?;
    let name = start.local_name().as_ref().to_string();
    let mut attrs = Vec::new();
    for attr in start.attributes().with_checks(true) {
        let attr = attr
            .map_err(|e| Diagnostic::error(Code::XmlSyntax, pos, format!("in <{qname}>: {e}")))?;
        if attrs.len() >= limits.max_attributes {
            return Err(limit(
                lines,
                offset,
                format!(
                    "<{qname}> has more than {} attributes",
                    limits.max_attributes
                ),
            ));
        }
        if attr.value.len() > limits.max_attribute_len {
            return Err(limit(
                lines,
                offset,
                format!(
                    "an attribute of <{qname}> is longer than {} bytes",
                    limits.max_attribute_len
                ),
            ));
        }
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (attr_ns, local) = reader.resolver().resolve_attribute(key);
        let attr_ns = match resolve(&attr_ns) {
            Ok(ns) => ns,
            Err(prefix) => {
                return Err(Diagnostic::error(
                    Code::XmlSyntax,
                    pos,
                    format!(
                        "an attribute of <{qname}> uses the undeclared namespace prefix `{prefix}`"
                    ),
                ));
            }
        };
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| {
                let msg = e.to_string();
                if msg.contains("entity") || msg.contains("Entity") {
                    Diagnostic::error(
                        Code::UndefinedEntity,
                        pos,
                        format!("in an attribute of <{qname}>: {msg}"),
                    )
                } else {
                    Diagnostic::error(
                        Code::XmlSyntax,
                        pos,
                        format!("in an attribute of <{qname}>: {msg}"),
                    )
                }
            })?;
        attrs.push(XmlAttr {
            ns: attr_ns,
            name: local.as_ref().to_string(),
            value: value.into_owned(),
        });
    }
    Ok(XmlNode {
        ns,
        name,
        qname,
        attrs,
        text: String::new(),
        children: Vec::new(),
        pos,
    })
}

fn push_text(
    node: &mut XmlNode,
    text: &str,
    limits: &Limits,
    lines: &LineIndex<'_>,
    offset: usize,
) -> Result<(), Diagnostic> {
    if node.text.len() + text.len() > limits.max_text_len {
        return Err(limit(
            lines,
            offset,
            format!(
                "the text of <{}> is longer than {} bytes",
                node.qname, limits.max_text_len
            ),
        ));
    }
    node.text.push_str(text);
    Ok(())
}

fn attach(
    stack: &mut [Option<XmlNode>],
    root: &mut Option<XmlNode>,
    node: XmlNode,
    lines: &LineIndex<'_>,
    offset: usize,
) -> Result<(), Diagnostic> {
    match stack.last_mut() {
        Some(Some(parent)) => parent.children.push(node),
        Some(None) => {}
        None => {
            if root.is_some() {
                return Err(syntax(lines, offset, "more than one root element"));
            }
            *root = Some(node);
        }
    }
    Ok(())
}

fn syntax(lines: &LineIndex<'_>, offset: usize, message: &str) -> Diagnostic {
    Diagnostic::error(
        Code::XmlSyntax,
        lines.pos(offset),
        format!("malformed XML: {message}"),
    )
}

fn limit(lines: &LineIndex<'_>, offset: usize, message: String) -> Diagnostic {
    Diagnostic::error(Code::LimitExceeded, lines.pos(offset), message)
}
