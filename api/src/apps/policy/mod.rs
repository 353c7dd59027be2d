//! An app's policy: who may do what, deny by default, and a matching Deny wins over any Permit
//! (XACML's deny-overrides, which is what Altinn Studio writes).
//!
//! Two sources compile to the same [`Policy`]: the `[[rules]]` of an `app.toml` (below) and an
//! Altinn app's `App/config/authorization/policy.xml` ([`xacml`]). [`Policy::explain`] prints
//! either as text a designer can check.
//!
//! An `app.toml` rule grants (or, with `effect = "deny"`, refuses) `actions` to `subjects`,
//! optionally only on some `tasks`. Subjects:
//!
//! | subject          | matches                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | `owner`          | the instance owner: the person itself, or the organisation's token    |
//! | `owner:person`   | the owner when it is a person acting for themselves (Altinn's `PRIV`) |
//! | `role:CODE`      | a person holding role CODE for the owner organisation (any case)      |
//! | `org:CODE`       | an organisation token whose org code is CODE (a service owner)        |
//! | `orgno:NUMBER`   | an organisation token for organisation NUMBER                         |
//! | `person:NUMBER`  | that person                                                           |
//! | `person`         | any person (a user token): with `<flyt:assignee>`, the one assigned   |
//! | `scope:SCOPE`    | any token carrying SCOPE                                              |
//!
//! Actions: `read`, `write`, `instantiate`, `delete`, `complete`, `confirm`, `sign`, `reject`,
//! `pay`, `deploy`, `resume`, `publish` (publishing messages to the app; a rule may limit it to
//! `messages = ["name", ...]`), `signal` (broadcasting signals in the app; a rule may limit it to
//! `signals = ["name", ...]`), or any custom task action; `*` means every action.

mod explain;
pub mod xacml;

use crate::auth::Caller;
use flyt_engine::model::{InstanceOwner, Party};
use serde::{Deserialize, Serialize};

/// What a rule does when it matches. With both, Deny wins (deny-overrides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    #[default]
    Permit,
    Deny,
}

fn is_permit(effect: &Effect) -> bool {
    *effect == Effect::Permit
}

/// One rule of an `app.toml` policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub subjects: Vec<String>,
    pub actions: Vec<String>,
    /// Tasks the rule applies to; empty = every task and no task.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// `permit` (default) or `deny`.
    #[serde(default, skip_serializing_if = "is_permit")]
    pub effect: Effect,
    /// For `publish`: the message names the rule applies to; empty = every name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// For `signal`: the signal names the rule applies to; empty = every name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
}

/// A subject, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Owner,
    /// The owner, a person, acting for themselves (Altinn's role code `PRIV`).
    OwnerPerson,
    /// A role code a person holds for the owner organisation; compared ignoring case.
    Role(String),
    /// A service owner's org code; compared ignoring case.
    OrgCode(String),
    OrgNumber(String),
    Person(String),
    Scope(String),
    /// Any person (user token). Only made by the Altinn reader, for `disallowUserInstantiation`.
    AnyPerson,
}

impl Subject {
    pub fn parse(s: &str) -> Result<Subject, String> {
        let (kind, value) = s.split_once(':').unwrap_or((s, ""));
        let need = |v: &str| {
            if v.is_empty() {
                Err(format!("subject `{s}` needs a value after `:`"))
            } else {
                Ok(v.to_string())
            }
        };
        match kind {
            "owner" if value.is_empty() => Ok(Subject::Owner),
            "owner" if value == "person" => Ok(Subject::OwnerPerson),
            "role" => need(value).map(Subject::Role),
            "org" => need(value).map(Subject::OrgCode),
            "orgno" => need(value).map(Subject::OrgNumber),
            "person" if value.is_empty() => Ok(Subject::AnyPerson),
            "person" => need(value).map(Subject::Person),
            "scope" => need(value).map(Subject::Scope),
            _ => Err(format!(
                "unknown subject `{s}`; use owner, owner:person, role:CODE, org:CODE, orgno:NUMBER, person, person:NUMBER or scope:SCOPE"
            )),
        }
    }

    fn matches(&self, caller: &Caller, owner: Option<&InstanceOwner>) -> bool {
        let owner_party = owner.map(|o| &o.party);
        match (self, caller) {
            (Subject::Owner | Subject::OwnerPerson, Caller::User(u)) => {
                matches!(owner_party, Some(Party::Person { person_number }) if *person_number == u.person_number)
            }
            (Subject::Owner, Caller::Organisation(o)) => {
                matches!(owner_party, Some(Party::Organisation { organisation_number }) if *organisation_number == o.organisation_number)
            }
            (Subject::Role(code), Caller::User(u)) => match owner_party {
                Some(Party::Organisation {
                    organisation_number,
                }) => u
                    .roles
                    .get(organisation_number)
                    .is_some_and(|r| r.iter().any(|held| held.eq_ignore_ascii_case(code))),
                _ => false,
            },
            (Subject::OrgCode(code), Caller::Organisation(o)) => o
                .org_code
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(code)),
            (Subject::OrgNumber(n), Caller::Organisation(o)) => o.organisation_number == *n,
            (Subject::Person(n), Caller::User(u)) => u.person_number == *n,
            (Subject::Scope(s), c) => c.has_scope(s),
            (Subject::AnyPerson, Caller::User(_)) => true,
            _ => false,
        }
    }
}

/// Where in the process a request is: the element a rule's place must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A task (Altinn's `urn:altinn:task`): while the instance is at it.
    Task(String),
    /// An end event (Altinn's `urn:altinn:end-event`): once the instance ended there.
    EndEvent(String),
}

/// One condition of a rule's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    Subject(Subject),
    /// An action, compared ignoring case (Altinn's `string-equal-ignore-case`).
    Action(String),
    AnyAction,
    Place(Place),
    /// The app the policy belongs to (an Altinn resource `org`/`app` match): always holds.
    ThisApp,
    /// A condition flyt cannot check (warned about at load): it never holds, so only a Permit
    /// can carry one (the rule grants less, never more).
    Never(String),
    /// The name of the message being published (`publish`).
    Message(String),
    /// The name of the signal being broadcast (`signal`).
    Signal(String),
}

/// Every alternative (`AllOf`) is a conjunction of predicates; the group (`AnyOf`) holds when
/// one alternative does.
pub type AnyOf = Vec<Vec<Predicate>>;

/// A compiled rule: it applies when every group of its target holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledRule {
    pub effect: Effect,
    pub target: Vec<AnyOf>,
    /// Where the rule came from, for `explain` and messages (`policy.xml:4`, `rules[0]`).
    pub origin: String,
    /// The rule's line in its file, when it has one (policy.xml).
    pub line: Option<u32>,
    pub description: Option<String>,
}

/// One request against a policy.
struct Request<'a> {
    caller: &'a Caller,
    action: &'a str,
    owner: Option<&'a InstanceOwner>,
    place: Option<&'a str>,
    /// The message name, for `publish`.
    message: Option<&'a str>,
    /// The signal name, for `signal`.
    signal: Option<&'a str>,
}

impl Predicate {
    fn holds(&self, r: &Request<'_>) -> bool {
        match self {
            Predicate::Subject(s) => s.matches(r.caller, r.owner),
            Predicate::Action(a) => a.eq_ignore_ascii_case(r.action),
            Predicate::AnyAction | Predicate::ThisApp => true,
            Predicate::Place(Place::Task(t) | Place::EndEvent(t)) => r.place == Some(t.as_str()),
            Predicate::Never(_) => false,
            Predicate::Message(m) => r.message == Some(m.as_str()),
            Predicate::Signal(m) => r.signal == Some(m.as_str()),
        }
    }
}

impl CompiledRule {
    fn applies(&self, r: &Request<'_>) -> bool {
        self.target
            .iter()
            .all(|any| any.iter().any(|all| all.iter().all(|p| p.holds(r))))
    }

    /// Every condition of the target, in any group.
    pub fn predicates(&self) -> impl Iterator<Item = &Predicate> {
        self.target.iter().flatten().flatten()
    }

    /// The rule from one `[[rules]]` entry of an `app.toml`.
    fn from_toml(i: usize, rule: &Rule) -> Result<CompiledRule, String> {
        let subjects = rule
            .subjects
            .iter()
            .map(|s| Subject::parse(s).map(|s| vec![Predicate::Subject(s)]))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("rules[{i}]: {e}"))?;
        if rule.actions.is_empty() {
            return Err(format!("rules[{i}]: no actions"));
        }
        let actions = rule
            .actions
            .iter()
            .map(|a| {
                vec![if a == "*" {
                    Predicate::AnyAction
                } else {
                    Predicate::Action(a.clone())
                }]
            })
            .collect();
        let mut target = vec![subjects, actions];
        if !rule.messages.is_empty() {
            target.push(
                rule.messages
                    .iter()
                    .map(|m| vec![Predicate::Message(m.clone())])
                    .collect(),
            );
        }
        if !rule.signals.is_empty() {
            target.push(
                rule.signals
                    .iter()
                    .map(|m| vec![Predicate::Signal(m.clone())])
                    .collect(),
            );
        }
        if !rule.tasks.is_empty() {
            target.push(
                rule.tasks
                    .iter()
                    .map(|t| vec![Predicate::Place(Place::Task(t.clone()))])
                    .collect(),
            );
        }
        Ok(CompiledRule {
            effect: rule.effect,
            target,
            origin: format!("app.toml rules[{i}]"),
            line: None,
            description: None,
        })
    }
}

/// A compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<CompiledRule>,
}

impl Policy {
    /// The policy of an `app.toml`'s `[[rules]]`.
    pub fn new(rules: Vec<Rule>) -> Result<Policy, String> {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule::from_toml(i, rule))
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// A policy of already compiled rules (the Altinn reader's).
    pub fn from_rules(rules: Vec<CompiledRule>) -> Policy {
        Policy { rules }
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Whether `caller` may do `action` on an instance owned by `owner` (or, for `instantiate`,
    /// the owner asked for), at `place` (the task the instance is at, or the end event it ended
    /// at, if any). Deny by default; a matching Deny rule wins over every Permit.
    pub fn allows(
        &self,
        caller: &Caller,
        action: &str,
        owner: Option<&InstanceOwner>,
        place: Option<&str>,
    ) -> bool {
        self.decide(&Request {
            caller,
            action,
            owner,
            place,
            message: None,
            signal: None,
        })
    }

    /// Whether `caller` may publish message `name` to this app (action `publish`, and the
    /// rule's `messages`, if it names any, include `name`).
    pub fn allows_publish(&self, caller: &Caller, name: &str) -> bool {
        self.decide(&Request {
            caller,
            action: "publish",
            owner: None,
            place: None,
            message: Some(name),
            signal: None,
        })
    }

    /// Whether `caller` may broadcast signal `name` in this app (action `signal`, and the
    /// rule's `signals`, if it names any, include `name`).
    pub fn allows_signal(&self, caller: &Caller, name: &str) -> bool {
        self.decide(&Request {
            caller,
            action: "signal",
            owner: None,
            place: None,
            message: None,
            signal: Some(name),
        })
    }

    fn decide(&self, request: &Request<'_>) -> bool {
        let applies = |effect: Effect| {
            self.rules
                .iter()
                .any(|r| r.effect == effect && r.applies(request))
        };
        !applies(Effect::Deny) && applies(Effect::Permit)
    }

    /// Whether persons with some role may read instances their organisations own: used to list
    /// instances for a user.
    pub fn reads_by_role(&self) -> bool {
        self.rules.iter().any(|rule| {
            rule.effect == Effect::Permit
                && rule.predicates().any(|p| {
                    matches!(p, Predicate::AnyAction)
                        || matches!(p, Predicate::Action(a) if a.eq_ignore_ascii_case("read"))
                })
                && rule
                    .predicates()
                    .any(|p| matches!(p, Predicate::Subject(Subject::Role(_))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Organisation, User};
    use std::collections::{BTreeMap, BTreeSet};

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

    fn org(number: &str, code: Option<&str>) -> Caller {
        Caller::Organisation(Organisation {
            organisation_number: number.into(),
            org_code: code.map(str::to_string),
            scopes: BTreeSet::new(),
            client_id: None,
        })
    }

    fn policy() -> Policy {
        Policy::new(vec![
            Rule {
                subjects: vec!["owner".into()],
                actions: vec!["read".into(), "write".into()],
                tasks: vec![],
                effect: Effect::Permit,
                messages: vec![],
                signals: vec![],
            },
            Rule {
                subjects: vec!["role:DAGL".into()],
                actions: vec!["read".into(), "sign".into()],
                tasks: vec!["Sign".into()],
                effect: Effect::Permit,
                messages: vec![],
                signals: vec![],
            },
            Rule {
                subjects: vec!["org:ttd".into()],
                actions: vec!["*".into()],
                tasks: vec![],
                effect: Effect::Permit,
                messages: vec![],
                signals: vec![],
            },
        ])
        .unwrap()
    }

    #[test]
    fn owner_role_and_org_rules() {
        let p = policy();
        let person = InstanceOwner::new(Party::person("01017012345").unwrap());
        let company = InstanceOwner::new(Party::organisation("991825827").unwrap());
        assert!(p.allows(&user("01017012345", &[]), "read", Some(&person), None));
        assert!(
            !p.allows(&user("02027012345", &[]), "read", Some(&person), None),
            "another person"
        );
        assert!(
            !p.allows(&user("01017012345", &[]), "delete", Some(&person), None),
            "deny by default"
        );
        assert!(p.allows(
            &user("02027012345", &[("991825827", "DAGL")]),
            "sign",
            Some(&company),
            Some("Sign")
        ));
        assert!(
            !p.allows(
                &user("02027012345", &[("991825827", "DAGL")]),
                "sign",
                Some(&company),
                Some("Other")
            ),
            "task-scoped"
        );
        assert!(
            !p.allows(
                &user("02027012345", &[("999999999", "DAGL")]),
                "sign",
                Some(&company),
                Some("Sign")
            ),
            "role for another org"
        );
        assert!(
            p.allows(&org("991825827", None), "read", Some(&company), None),
            "the owner organisation"
        );
        assert!(
            p.allows(
                &org("974760673", Some("ttd")),
                "delete",
                Some(&person),
                None
            ),
            "service owner"
        );
        assert!(!p.allows(&org("974760673", Some("skd")), "read", Some(&person), None));
    }

    #[test]
    fn an_app_toml_deny_rule_overrides_its_permits() {
        let mut rules = vec![Rule {
            subjects: vec!["role:REGNA".into(), "owner:person".into()],
            actions: vec!["*".into()],
            tasks: vec![],
            effect: Effect::Permit,
            messages: vec![],
            signals: vec![],
        }];
        rules.push(Rule {
            subjects: vec!["role:regna".into()],
            actions: vec!["confirm".into()],
            tasks: vec!["Confirm".into()],
            effect: Effect::Deny,
            messages: vec![],
            signals: vec![],
        });
        let p = Policy::new(rules).unwrap();
        let company = InstanceOwner::new(Party::organisation("991825827").unwrap());
        let accountant = user("02027012345", &[("991825827", "REGNA")]);
        assert!(p.allows(&accountant, "confirm", Some(&company), Some("Fill")));
        assert!(!p.allows(&accountant, "confirm", Some(&company), Some("Confirm")));
        assert!(p.allows(&accountant, "write", Some(&company), Some("Confirm")));
        let person = InstanceOwner::new(Party::person("01017012345").unwrap());
        assert!(p.allows(
            &user("01017012345", &[]),
            "confirm",
            Some(&person),
            Some("Confirm")
        ));
        assert!(
            !p.allows(&org("991825827", None), "read", Some(&company), None),
            "owner:person is never an organisation"
        );
        let toml: Rule =
            toml::from_str("subjects = [\"owner\"]\nactions = [\"read\"]\neffect = \"deny\"")
                .unwrap();
        assert_eq!(toml.effect, Effect::Deny);
    }

    #[test]
    fn bad_subjects_are_refused_at_load() {
        let err = Policy::new(vec![Rule {
            subjects: vec!["rolle:DAGL".into()],
            actions: vec!["read".into()],
            tasks: vec![],
            effect: Effect::Permit,
            messages: vec![],
            signals: vec![],
        }])
        .unwrap_err();
        assert!(
            err.contains("rules[0]") && err.contains("rolle:DAGL"),
            "{err}"
        );
    }
}
