//! Altinn's `App/config/authorization/policy.xml`: the XACML 3.0 subset Altinn Studio writes.
//!
//! Read with the BPMN reader's bounded XML tree (size, depth, no DOCTYPE), then compiled into
//! the same [`CompiledRule`]s as an `app.toml` policy:
//!
//! | XACML                                                         | flyt                               |
//! |---------------------------------------------------------------|------------------------------------|
//! | subject `urn:altinn:rolecode` `PRIV`                          | [`Subject::OwnerPerson`]            |
//! | subject `urn:altinn:rolecode` other codes (`DAGL`, `A0239`)   | [`Subject::Role`] (ignoring case)   |
//! | subject `urn:altinn:org`                                      | [`Subject::OrgCode`]                |
//! | subject `urn:altinn:organizationnumber`, `urn:scope`          | [`Subject::OrgNumber`], `Scope`     |
//! | resource `urn:altinn:org` / `urn:altinn:app`                  | this app, or the rule never applies |
//! | resource `urn:altinn:task`                                    | [`Place::Task`]                     |
//! | resource `urn:altinn:end-event` (`urn:altinn:event-id`)       | [`Place::EndEvent`]                 |
//! | action `urn:oasis:names:tc:xacml:1.0:action:action-id`        | [`Predicate::Action`]               |
//!
//! `[ORG]`/`[APP]` (any case), which Altinn Studio leaves in the file, stand for this app's org
//! and name. Anything else is a finding with its line: in a Permit rule the unknown condition
//! never holds (the rule grants less, never more) and a warning says so; in a Deny rule it is an
//! error, because ignoring part of a Deny would grant more than the designer wrote.

use super::{AnyOf, CompiledRule, Effect, Place, Predicate, Subject};
use flyt_engine::bpmn::Limits;
use flyt_engine::bpmn::xml::{Ns, XmlNode, read_document};
use flyt_engine::ids::AppId;

/// The XACML 3.0 core namespace.
pub const XACML_NS: &str = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17";
const ACTION_ID: &str = "urn:oasis:names:tc:xacml:1.0:action:action-id";
const SUBJECT_CATEGORY: &str = "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject";
const RESOURCE_CATEGORY: &str = "urn:oasis:names:tc:xacml:3.0:attribute-category:resource";
const ACTION_CATEGORY: &str = "urn:oasis:names:tc:xacml:3.0:attribute-category:action";

/// One finding in the file: its line and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: u32,
    pub message: String,
}

/// A policy file read: its rules and the warnings about what flyt does not enforce.
#[derive(Debug, Clone)]
pub struct Read {
    pub rules: Vec<CompiledRule>,
    pub warnings: Vec<Finding>,
}

/// Reads `policy.xml` for `app`. Every error is reported at once (with the warnings found so
/// far); an error means the app cannot run with this file.
pub fn read(bytes: &[u8], app: &AppId) -> Result<Read, Vec<Finding>> {
    let limits = Limits::default().with_max_bytes(1024 * 1024);
    let root = read_document(bytes, &limits).map_err(|d| {
        vec![Finding {
            line: d.line,
            message: d.message,
        }]
    })?;
    let mut reader = Reader {
        app,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let rules = reader.policy(&root);
    if reader.errors.is_empty() {
        Ok(Read {
            rules,
            warnings: reader.warnings,
        })
    } else {
        Err(reader.errors)
    }
}

struct Reader<'a> {
    app: &'a AppId,
    errors: Vec<Finding>,
    warnings: Vec<Finding>,
}

fn is_xacml(node: &XmlNode) -> bool {
    node.ns == Ns::Other(XACML_NS.to_string())
}

impl Reader<'_> {
    fn error(&mut self, node: &XmlNode, message: String) {
        self.errors.push(Finding {
            line: node.pos.line,
            message,
        });
    }

    fn warn(&mut self, node: &XmlNode, message: String) {
        self.warnings.push(Finding {
            line: node.pos.line,
            message,
        });
    }

    fn policy(&mut self, root: &XmlNode) -> Vec<CompiledRule> {
        if !is_xacml(root) || root.name != "Policy" {
            self.error(
                root,
                format!(
                    "the root element is <{}>; expected an XACML 3.0 <Policy> (namespace {XACML_NS}); a PolicySet is not supported",
                    root.qname
                ),
            );
            return Vec::new();
        }
        let algorithm = root.attr("RuleCombiningAlgId").unwrap_or_default();
        let mut rules = Vec::new();
        for child in &root.children {
            match (is_xacml(child), child.name.as_str()) {
                (true, "Rule") => {
                    if let Some(rule) = self.rule(child) {
                        rules.push(rule);
                    }
                }
                (true, "Description") => {}
                (true, "Target") if child.children.is_empty() => {}
                (true, "Target") => self.error(
                    child,
                    "a policy-level <Target> with matches is not supported; put the matches in each rule".into(),
                ),
                (true, "ObligationExpressions" | "AdviceExpressions") => self.warn(
                    child,
                    format!(
                        "<{}> (e.g. Altinn's minimum authentication level) is not enforced by flyt",
                        child.qname
                    ),
                ),
                _ => self.warn(
                    child,
                    format!("<{}> is not understood by flyt and is ignored", child.qname),
                ),
            }
        }
        if !algorithm.ends_with(":deny-overrides")
            && !algorithm.ends_with(":ordered-deny-overrides")
        {
            let message = format!(
                "RuleCombiningAlgId `{algorithm}`: flyt combines rules with deny-overrides (a matching Deny wins)"
            );
            if rules.iter().any(|r| r.effect == Effect::Deny) {
                self.error(
                    root,
                    format!("{message}; with Deny rules the result would differ"),
                );
            } else {
                self.warn(
                    root,
                    format!("{message}; with only Permit rules the result is the same"),
                );
            }
        }
        rules
    }

    fn rule(&mut self, node: &XmlNode) -> Option<CompiledRule> {
        let id = self.placeholders(node.attr("RuleId").unwrap_or("(no RuleId)"));
        let effect = match node.attr("Effect") {
            Some("Permit") => Effect::Permit,
            Some("Deny") => Effect::Deny,
            other => {
                self.error(
                    node,
                    format!(
                        "rule {id}: Effect {:?} is not `Permit` or `Deny`",
                        other.unwrap_or("")
                    ),
                );
                return None;
            }
        };
        let mut rule = CompiledRule {
            effect,
            target: Vec::new(),
            origin: format!("policy.xml line {}, {id}", node.pos.line),
            line: Some(node.pos.line),
            description: None,
        };
        for child in &node.children {
            match (is_xacml(child), child.name.as_str()) {
                (true, "Description") => {
                    let text = child.trimmed_text();
                    if !text.is_empty() {
                        rule.description = Some(text.to_string());
                    }
                }
                (true, "Target") => {
                    for any_of in &child.children {
                        if is_xacml(any_of) && any_of.name == "AnyOf" {
                            let group = self.any_of(any_of, effect, &id);
                            rule.target.push(group);
                        } else {
                            self.unsupported(any_of, effect, &id, &mut rule.target);
                        }
                    }
                    if child.children.is_empty() {
                        self.warn(
                            child,
                            format!("rule {id}: an empty <Target> matches every request"),
                        );
                    }
                }
                (true, "Condition") => self.unsupported(child, effect, &id, &mut rule.target),
                (true, "ObligationExpressions" | "AdviceExpressions") => self.warn(
                    child,
                    format!("rule {id}: <{}> is not enforced by flyt", child.qname),
                ),
                _ => self.warn(
                    child,
                    format!(
                        "rule {id}: <{}> is not understood by flyt and is ignored",
                        child.qname
                    ),
                ),
            }
        }
        Some(rule)
    }

    /// A construct that would restrict the whole rule: a Permit never applies, a Deny fails.
    fn unsupported(&mut self, node: &XmlNode, effect: Effect, id: &str, target: &mut Vec<AnyOf>) {
        let what = format!("rule {id}: <{}> is not supported by flyt", node.qname);
        match effect {
            Effect::Permit => {
                self.warn(node, format!("{what}; this Permit rule never applies"));
                target.push(vec![vec![Predicate::Never(what)]]);
            }
            Effect::Deny => self.error(
                node,
                format!("{what}; a Deny rule cannot be enforced in part"),
            ),
        }
    }

    fn any_of(&mut self, node: &XmlNode, effect: Effect, id: &str) -> AnyOf {
        let mut group = Vec::new();
        for all_of in &node.children {
            if !(is_xacml(all_of) && all_of.name == "AllOf") {
                self.warn(
                    all_of,
                    format!("rule {id}: <{}> inside <AnyOf> is ignored", all_of.qname),
                );
                continue;
            }
            let mut alternative = Vec::new();
            for m in &all_of.children {
                if is_xacml(m) && m.name == "Match" {
                    alternative.push(self.matcher(m, effect, id));
                } else {
                    self.warn(
                        m,
                        format!("rule {id}: <{}> inside <AllOf> is ignored", m.qname),
                    );
                }
            }
            group.push(alternative);
        }
        group
    }

    fn matcher(&mut self, node: &XmlNode, effect: Effect, id: &str) -> Predicate {
        let child = |name: &str| node.children.iter().find(|c| is_xacml(c) && c.name == name);
        let function = node.attr("MatchId").unwrap_or_default();
        let (value, designator) = match (child("AttributeValue"), child("AttributeDesignator")) {
            (Some(v), Some(d)) => (v.trimmed_text().to_string(), d),
            _ => {
                return self.never(
                    node,
                    effect,
                    format!(
                        "rule {id}: a <Match> without <AttributeValue> and <AttributeDesignator>"
                    ),
                );
            }
        };
        if !function.ends_with(":function:string-equal")
            && !function.ends_with(":function:string-equal-ignore-case")
        {
            return self.never(
                node,
                effect,
                format!("rule {id}: MatchId `{function}` (only string-equal and string-equal-ignore-case are supported)"),
            );
        }
        let value = self.placeholders(&value);
        let attribute = designator.attr("AttributeId").unwrap_or_default();
        let category = designator.attr("Category").unwrap_or_default();
        match (category, attribute) {
            (SUBJECT_CATEGORY, "urn:altinn:rolecode") if value.eq_ignore_ascii_case("PRIV") => {
                Predicate::Subject(Subject::OwnerPerson)
            }
            (SUBJECT_CATEGORY, "urn:altinn:rolecode") => {
                Predicate::Subject(Subject::Role(value.to_ascii_uppercase()))
            }
            (SUBJECT_CATEGORY, "urn:altinn:org") => {
                Predicate::Subject(Subject::OrgCode(value.to_ascii_lowercase()))
            }
            (SUBJECT_CATEGORY, "urn:altinn:organizationnumber") => {
                Predicate::Subject(Subject::OrgNumber(value))
            }
            (SUBJECT_CATEGORY, "urn:scope") => Predicate::Subject(Subject::Scope(value)),
            (RESOURCE_CATEGORY, "urn:altinn:org") => {
                self.this_app(node, &value, self.app.org(), "org", id)
            }
            (RESOURCE_CATEGORY, "urn:altinn:app") => {
                self.this_app(node, &value, self.app.app(), "app", id)
            }
            (RESOURCE_CATEGORY, "urn:altinn:task") => Predicate::Place(Place::Task(value)),
            (RESOURCE_CATEGORY, "urn:altinn:end-event" | "urn:altinn:event-id") => {
                Predicate::Place(Place::EndEvent(value))
            }
            (ACTION_CATEGORY, ACTION_ID) => Predicate::Action(value.to_ascii_lowercase()),
            _ => self.never(
                node,
                effect,
                format!("rule {id}: attribute `{attribute}` (category `{category}`) = `{value}` is not supported"),
            ),
        }
    }

    /// A resource match on the app's org or name: this app, or never.
    fn this_app(
        &mut self,
        node: &XmlNode,
        value: &str,
        expected: &str,
        what: &str,
        id: &str,
    ) -> Predicate {
        if value.eq_ignore_ascii_case(expected) {
            return Predicate::ThisApp;
        }
        let message = format!(
            "rule {id}: resource {what} `{value}` is not this app's `{expected}`: this alternative never applies"
        );
        self.warn(node, message.clone());
        Predicate::Never(message)
    }

    /// An unsupported match: never holds in a Permit (warned), an error in a Deny.
    fn never(&mut self, node: &XmlNode, effect: Effect, what: String) -> Predicate {
        match effect {
            Effect::Permit => self.warn(
                node,
                format!("{what}; this alternative of a Permit rule never applies"),
            ),
            Effect::Deny => self.error(
                node,
                format!("{what}; a Deny rule cannot be enforced in part"),
            ),
        }
        Predicate::Never(what)
    }

    fn placeholders(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find('[') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let replaced = [("[ORG]", self.app.org()), ("[APP]", self.app.app())]
                .into_iter()
                .find(|(p, _)| {
                    tail.get(..p.len())
                        .is_some_and(|t| t.eq_ignore_ascii_case(p))
                });
            match replaced {
                Some((p, with)) => {
                    out.push_str(with);
                    rest = &tail[p.len()..];
                }
                None => {
                    out.push('[');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::policy::Policy;
    use crate::auth::{Caller, Organisation, User};
    use flyt_engine::model::{InstanceOwner, Party};
    use std::collections::{BTreeMap, BTreeSet};

    const STR: &str = "http://www.w3.org/2001/XMLSchema#string";

    fn m(function: &str, value: &str, attribute: &str, category: &str) -> String {
        format!(
            "<xacml:Match MatchId=\"urn:oasis:names:tc:xacml:{function}\"><xacml:AttributeValue DataType=\"{STR}\">{value}</xacml:AttributeValue><xacml:AttributeDesignator AttributeId=\"{attribute}\" Category=\"{category}\" DataType=\"{STR}\" MustBePresent=\"false\"/></xacml:Match>"
        )
    }
    fn role(code: &str) -> String {
        m(
            "3.0:function:string-equal-ignore-case",
            code,
            "urn:altinn:rolecode",
            SUBJECT_CATEGORY,
        )
    }
    fn resource(attribute: &str, value: &str) -> String {
        m(
            "1.0:function:string-equal",
            value,
            attribute,
            RESOURCE_CATEGORY,
        )
    }
    fn action(a: &str) -> String {
        m(
            "3.0:function:string-equal-ignore-case",
            a,
            ACTION_ID,
            ACTION_CATEGORY,
        )
    }
    fn any_of(alternatives: &[&[String]]) -> String {
        let mut out = String::from("<xacml:AnyOf>");
        for all in alternatives {
            out.push_str("<xacml:AllOf>");
            out.push_str(&all.concat());
            out.push_str("</xacml:AllOf>");
        }
        out + "</xacml:AnyOf>"
    }
    /// One rule per line, so a finding's line names its rule.
    fn policy(rules: &[(&str, String)]) -> String {
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<xacml:Policy PolicyId=\"p\" RuleCombiningAlgId=\"urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides\" xmlns:xacml=\"{XACML_NS}\">\n<xacml:Target/>\n"
        );
        for (i, (effect, target)) in rules.iter().enumerate() {
            out.push_str(&format!(
                "<xacml:Rule RuleId=\"r{}\" Effect=\"{effect}\"><xacml:Target>{target}</xacml:Target></xacml:Rule>\n",
                i + 1
            ));
        }
        out + "</xacml:Policy>\n"
    }
    fn this_app() -> String {
        any_of(&[&[
            resource("urn:altinn:org", "[ORG]"),
            resource("urn:altinn:app", "[app]"),
        ]])
    }
    fn app() -> AppId {
        AppId::new("ttd", "demo").unwrap()
    }
    fn user(pid: &str, roles: &[(&str, &str)]) -> Caller {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (org, code) in roles {
            map.entry(org.to_string())
                .or_default()
                .insert(code.to_string());
        }
        Caller::User(User {
            person_number: pid.into(),
            roles: map,
            scopes: BTreeSet::new(),
        })
    }
    fn service_owner(code: &str) -> Caller {
        Caller::Organisation(Organisation {
            organisation_number: "974760673".into(),
            org_code: Some(code.into()),
            scopes: BTreeSet::new(),
            client_id: None,
        })
    }
    fn person() -> InstanceOwner {
        InstanceOwner::new(Party::person("01017012345").unwrap())
    }
    fn company() -> InstanceOwner {
        InstanceOwner::new(Party::organisation("991825827").unwrap())
    }

    #[test]
    fn placeholders_roles_and_the_service_owner() {
        let text = policy(&[
            (
                "Permit",
                any_of(&[&[role("priv")], &[role("dagl")]])
                    + &this_app()
                    + &any_of(&[&[action("Read")], &[action("instantiate")]]),
            ),
            (
                "Permit",
                any_of(&[&[m(
                    "3.0:function:string-equal-ignore-case",
                    "[org]",
                    "urn:altinn:org",
                    SUBJECT_CATEGORY,
                )]]) + &this_app()
                    + &any_of(&[&[action("delete")]]),
            ),
        ]);
        let read = read(text.as_bytes(), &app()).unwrap();
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        let p = Policy::from_rules(read.rules);
        let me = user("01017012345", &[]);
        assert!(
            p.allows(&me, "read", Some(&person()), None),
            "PRIV: the owner acting for themselves"
        );
        assert!(
            !p.allows(&user("02027012345", &[]), "read", Some(&person()), None),
            "another person"
        );
        assert!(
            !p.allows(&me, "read", Some(&company()), None),
            "PRIV is not a role for an organisation"
        );
        assert!(
            p.allows(
                &user("02027012345", &[("991825827", "DAGL")]),
                "instantiate",
                Some(&company()),
                None
            ),
            "DAGL for the owner organisation"
        );
        assert!(
            p.allows(
                &user("02027012345", &[("991825827", "dagl")]),
                "read",
                Some(&company()),
                None
            ),
            "role codes compare ignoring case, as in Altinn"
        );
        assert!(!p.allows(
            &user("02027012345", &[("999999999", "DAGL")]),
            "read",
            Some(&company()),
            None
        ));
        assert!(
            p.allows(&service_owner("ttd"), "delete", Some(&person()), None),
            "[org] is this app's org"
        );
        assert!(!p.allows(&service_owner("skd"), "delete", Some(&person()), None));
        assert!(
            !p.allows(&me, "delete", Some(&person()), None),
            "deny by default"
        );
    }

    #[test]
    fn a_deny_at_a_task_overrides_a_permit() {
        let text = policy(&[
            (
                "Permit",
                any_of(&[&[role("DAGL")], &[role("REGNA")]])
                    + &this_app()
                    + &any_of(&[&[action("confirm")]]),
            ),
            (
                "Deny",
                any_of(&[&[role("REGNA")]])
                    + &any_of(&[&[
                        resource("urn:altinn:org", "[ORG]"),
                        resource("urn:altinn:task", "Task_2"),
                    ]])
                    + &any_of(&[&[action("confirm")]]),
            ),
        ]);
        let p = Policy::from_rules(read(text.as_bytes(), &app()).unwrap().rules);
        let accountant = user("02027012345", &[("991825827", "REGNA")]);
        let manager = user("03037012345", &[("991825827", "DAGL")]);
        assert!(p.allows(&accountant, "confirm", Some(&company()), Some("Task_1")));
        assert!(
            !p.allows(&accountant, "confirm", Some(&company()), Some("Task_2")),
            "deny-overrides"
        );
        assert!(p.allows(&manager, "confirm", Some(&company()), Some("Task_2")));
        let both = user(
            "04047012345",
            &[("991825827", "REGNA"), ("991825827", "DAGL")],
        );
        assert!(
            !p.allows(&both, "confirm", Some(&company()), Some("Task_2")),
            "a Deny wins over any Permit"
        );
    }

    #[test]
    fn end_events_and_other_apps() {
        let text = policy(&[
            (
                "Permit",
                any_of(&[&[role("PRIV")]])
                    + &any_of(&[&[
                        resource("urn:altinn:org", "[ORG]"),
                        resource("urn:altinn:end-event", "EndEvent_1"),
                    ]])
                    + &any_of(&[&[action("read")]]),
            ),
            (
                "Permit",
                any_of(&[&[role("PRIV")]])
                    + &any_of(&[&[
                        resource("urn:altinn:org", "skd"),
                        resource("urn:altinn:app", "[APP]"),
                    ]])
                    + &any_of(&[&[action("write")]]),
            ),
        ]);
        let read = read(text.as_bytes(), &app()).unwrap();
        assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
        assert_eq!(read.warnings[0].line, 5);
        assert!(
            read.warnings[0]
                .message
                .contains("`skd` is not this app's `ttd`"),
            "{:?}",
            read.warnings
        );
        let p = Policy::from_rules(read.rules);
        let me = user("01017012345", &[]);
        assert!(p.allows(&me, "read", Some(&person()), Some("EndEvent_1")));
        assert!(!p.allows(&me, "read", Some(&person()), Some("Task_1")));
        assert!(
            !p.allows(&me, "write", Some(&person()), Some("Task_1")),
            "a rule for another org"
        );
    }

    #[test]
    fn unknown_constructs_are_warned_with_their_line_and_a_deny_cannot_be_partial() {
        let partyid = m(
            "1.0:function:string-equal",
            "50001",
            "urn:altinn:partyid",
            RESOURCE_CATEGORY,
        );
        let mut text = policy(&[
            (
                "Permit",
                any_of(&[&[role("PRIV")]])
                    + &any_of(&[std::slice::from_ref(&partyid)])
                    + &any_of(&[&[action("read")]]),
            ),
            (
                "Permit",
                any_of(&[&[role("DAGL")]]) + &this_app() + &any_of(&[&[action("read")]]),
            ),
        ]);
        text = text.replace(
            "</xacml:Policy>",
            "<xacml:ObligationExpressions/>\n</xacml:Policy>",
        );
        let read_ok = read(text.as_bytes(), &app()).unwrap();
        let lines: Vec<(u32, &str)> = read_ok
            .warnings
            .iter()
            .map(|w| (w.line, w.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, 4);
        assert!(
            lines[0].1.contains("urn:altinn:partyid") && lines[0].1.contains("never applies"),
            "{lines:?}"
        );
        assert_eq!(lines[1].0, 6);
        assert!(
            lines[1].1.contains("ObligationExpressions") && lines[1].1.contains("not enforced"),
            "{lines:?}"
        );
        let p = Policy::from_rules(read_ok.rules);
        assert!(
            !p.allows(&user("01017012345", &[]), "read", Some(&person()), None),
            "the unknown match never holds"
        );

        let deny = policy(&[
            (
                "Permit",
                any_of(&[&[role("PRIV")]]) + &any_of(&[&[action("read")]]),
            ),
            (
                "Deny",
                any_of(&[&[role("PRIV")]]) + &any_of(&[&[partyid]]) + &any_of(&[&[action("read")]]),
            ),
        ]);
        let errors = read(deny.as_bytes(), &app()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 5);
        assert!(
            errors[0].message.contains("rule r2")
                && errors[0]
                    .message
                    .contains("Deny rule cannot be enforced in part"),
            "{errors:?}"
        );
    }

    #[test]
    fn broken_files_are_errors_with_their_line() {
        let errors = read(b"<?xml version=\"1.0\"?>\n<xacml:Policy xmlns:xacml=\"urn:oasis:names:tc:xacml:3.0:core:schema:wd-17\">\n<xacml:Rule Effect=\"Permit\">\n</xacml:Policy>", &app()).unwrap_err();
        assert_eq!(errors[0].line, 4, "{errors:?}");
        let errors = read(b"<Policy/>", &app()).unwrap_err();
        assert!(
            errors[0].message.contains("XACML 3.0 <Policy>"),
            "{errors:?}"
        );
        let text = policy(&[("Maybe", any_of(&[&[role("PRIV")]]))]);
        let errors = read(text.as_bytes(), &app()).unwrap_err();
        assert_eq!(
            (
                errors[0].line,
                errors[0].message.contains("`Permit` or `Deny`")
            ),
            (4, true),
            "{errors:?}"
        );
        let text = policy(&[("Deny", any_of(&[&[role("PRIV")]]))]).replace(
            "rule-combining-algorithm:deny-overrides",
            "rule-combining-algorithm:permit-overrides",
        );
        let errors = read(text.as_bytes(), &app()).unwrap_err();
        assert!(errors[0].message.contains("permit-overrides"), "{errors:?}");
        let doctype = read(b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>", &app()).unwrap_err();
        assert!(doctype[0].message.contains("DOCTYPE"), "{doctype:?}");
    }
}
