//! An app's policy: who may do what, deny by default.
//!
//! A rule grants `actions` to `subjects`, optionally only on some `tasks`. Subjects:
//!
//! | subject          | matches                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | `owner`          | the instance owner: the person itself, or the organisation's token    |
//! | `role:CODE`      | a person holding role CODE for the owner organisation                 |
//! | `org:CODE`       | an organisation token whose org code is CODE (a service owner)        |
//! | `orgno:NUMBER`   | an organisation token for organisation NUMBER                         |
//! | `person:NUMBER`  | that person                                                           |
//! | `scope:SCOPE`    | any token carrying SCOPE                                              |
//!
//! Actions: `read`, `write`, `instantiate`, `delete`, `complete`, `confirm`, `sign`, `reject`,
//! `pay`, `deploy`, `resume`, or any custom task action; `*` means every action.

use crate::auth::Caller;
use flyt_engine::model::{InstanceOwner, Party};
use serde::{Deserialize, Serialize};

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub subjects: Vec<String>,
    pub actions: Vec<String>,
    /// Tasks the rule applies to; empty = every task and no task.
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// A subject, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Owner,
    Role(String),
    OrgCode(String),
    OrgNumber(String),
    Person(String),
    Scope(String),
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
            "role" => need(value).map(Subject::Role),
            "org" => need(value).map(Subject::OrgCode),
            "orgno" => need(value).map(Subject::OrgNumber),
            "person" => need(value).map(Subject::Person),
            "scope" => need(value).map(Subject::Scope),
            _ => Err(format!(
                "unknown subject `{s}`; use owner, role:CODE, org:CODE, orgno:NUMBER, person:NUMBER or scope:SCOPE"
            )),
        }
    }

    fn matches(&self, caller: &Caller, owner: Option<&InstanceOwner>) -> bool {
        match (self, caller) {
            (Subject::Owner, Caller::User(u)) => {
                matches!(owner.map(|o| &o.party), Some(Party::Person { person_number }) if *person_number == u.person_number)
            }
            (Subject::Owner, Caller::Organisation(o)) => {
                matches!(owner.map(|x| &x.party), Some(Party::Organisation { organisation_number }) if *organisation_number == o.organisation_number)
            }
            (Subject::Role(code), Caller::User(u)) => match owner.map(|o| &o.party) {
                Some(Party::Organisation {
                    organisation_number,
                }) => u
                    .roles
                    .get(organisation_number)
                    .is_some_and(|r| r.contains(code)),
                _ => false,
            },
            (Subject::OrgCode(code), Caller::Organisation(o)) => {
                o.org_code.as_deref() == Some(code.as_str())
            }
            (Subject::OrgNumber(n), Caller::Organisation(o)) => o.organisation_number == *n,
            (Subject::Person(n), Caller::User(u)) => u.person_number == *n,
            (Subject::Scope(s), c) => c.has_scope(s),
            _ => false,
        }
    }
}

/// A compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<(Vec<Subject>, Rule)>,
}

impl Policy {
    pub fn new(rules: Vec<Rule>) -> Result<Policy, String> {
        let mut compiled = Vec::new();
        for (i, rule) in rules.into_iter().enumerate() {
            let subjects = rule
                .subjects
                .iter()
                .map(|s| Subject::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("rules[{i}]: {e}"))?;
            if rule.actions.is_empty() {
                return Err(format!("rules[{i}]: no actions"));
            }
            compiled.push((subjects, rule));
        }
        Ok(Policy { rules: compiled })
    }

    /// Whether `caller` may do `action` on an instance owned by `owner` (or, for `instantiate`,
    /// the owner asked for), at `task` (the task it applies to, if any). Deny by default.
    pub fn allows(
        &self,
        caller: &Caller,
        action: &str,
        owner: Option<&InstanceOwner>,
        task: Option<&str>,
    ) -> bool {
        self.rules.iter().any(|(subjects, rule)| {
            let action_ok = rule.actions.iter().any(|a| a == action || a == "*");
            let task_ok =
                rule.tasks.is_empty() || task.is_some_and(|t| rule.tasks.iter().any(|x| x == t));
            action_ok && task_ok && subjects.iter().any(|s| s.matches(caller, owner))
        })
    }

    /// Organisations (by number) whose persons with some role may read instances they own:
    /// used to list instances for a user.
    pub fn reads_by_role(&self) -> bool {
        self.rules.iter().any(|(subjects, rule)| {
            rule.actions.iter().any(|a| a == "read" || a == "*")
                && subjects.iter().any(|s| matches!(s, Subject::Role(_)))
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
            },
            Rule {
                subjects: vec!["role:DAGL".into()],
                actions: vec!["read".into(), "sign".into()],
                tasks: vec!["Sign".into()],
            },
            Rule {
                subjects: vec!["org:ttd".into()],
                actions: vec!["*".into()],
                tasks: vec![],
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
    fn bad_subjects_are_refused_at_load() {
        let err = Policy::new(vec![Rule {
            subjects: vec!["rolle:DAGL".into()],
            actions: vec!["read".into()],
            tasks: vec![],
        }])
        .unwrap_err();
        assert!(
            err.contains("rules[0]") && err.contains("rolle:DAGL"),
            "{err}"
        );
    }
}
