//! Who is calling: a person (user token) or an organisation (Maskinporten-shaped token).

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A person, from a user token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// National identity number (claim `pid`).
    pub person_number: String,
    /// Roles held for organisations: organisation number → role codes (claim `roles`, written
    /// as `"991825827:DAGL"` strings).
    pub roles: BTreeMap<String, BTreeSet<String>>,
    /// OAuth scopes (claim `scope`, space separated).
    pub scopes: BTreeSet<String>,
}

/// An organisation, from a Maskinporten-shaped token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    /// From `consumer.ID` (`0192:991825827` → `991825827`).
    pub organisation_number: String,
    /// The org code of a service owner (claim `urn:altinn:org`, or `org`), e.g. `ttd`.
    pub org_code: Option<String>,
    pub scopes: BTreeSet<String>,
    /// Claim `client_id`, when present.
    pub client_id: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Caller {
    User(User),
    Organisation(Organisation),
}

impl Caller {
    pub fn scopes(&self) -> &BTreeSet<String> {
        match self {
            Caller::User(u) => &u.scopes,
            Caller::Organisation(o) => &o.scopes,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(scope)
    }

    /// The engine's record of who acted.
    pub fn actor(&self) -> flyt_engine::model::Actor {
        match self {
            Caller::User(u) => flyt_engine::model::Actor::User {
                person_number: u.person_number.clone(),
            },
            Caller::Organisation(o) => flyt_engine::model::Actor::Organisation {
                organisation_number: o.organisation_number.clone(),
                org_code: o.org_code.clone(),
            },
        }
    }
}

impl Caller {
    /// Whether this caller is a task's assignee: the person; the organisation's own token or a
    /// person holding a role for it; a person holding the role for the owning organisation.
    pub fn is_assignee(&self, assignee: &flyt_engine::model::Assignee) -> bool {
        use flyt_engine::model::Assignee;
        match (assignee, self) {
            (Assignee::Person { person_number }, Caller::User(u)) => {
                &u.person_number == person_number
            }
            (
                Assignee::Organisation {
                    organisation_number,
                },
                Caller::Organisation(o),
            ) => &o.organisation_number == organisation_number,
            (
                Assignee::Organisation {
                    organisation_number,
                },
                Caller::User(u),
            ) => u
                .roles
                .get(organisation_number)
                .is_some_and(|r| !r.is_empty()),
            (
                Assignee::Role {
                    role,
                    organisation_number: Some(org),
                },
                Caller::User(u),
            ) => u.roles.get(org).is_some_and(|r| r.contains(role)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flyt_engine::model::Assignee;

    fn person(pid: &str, roles: &[(&str, &str)]) -> Caller {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (org, role) in roles {
            map.entry(org.to_string())
                .or_default()
                .insert(role.to_string());
        }
        Caller::User(User {
            person_number: pid.into(),
            roles: map,
            scopes: BTreeSet::new(),
        })
    }

    fn organisation(orgno: &str) -> Caller {
        Caller::Organisation(Organisation {
            organisation_number: orgno.into(),
            org_code: None,
            scopes: BTreeSet::new(),
            client_id: None,
        })
    }

    #[test]
    fn an_assignee_is_matched_by_person_organisation_or_role_in_the_owning_organisation() {
        let alice = Assignee::Person {
            person_number: "01017012345".into(),
        };
        assert!(person("01017012345", &[]).is_assignee(&alice));
        assert!(!person("02027012345", &[]).is_assignee(&alice));
        assert!(!organisation("991825827").is_assignee(&alice));

        let org = Assignee::Organisation {
            organisation_number: "991825827".into(),
        };
        assert!(organisation("991825827").is_assignee(&org));
        assert!(!organisation("999888777").is_assignee(&org));
        assert!(person("03037012345", &[("991825827", "REGNA")]).is_assignee(&org));
        assert!(!person("03037012345", &[("999888777", "DAGL")]).is_assignee(&org));

        let dagl = Assignee::Role {
            role: "DAGL".into(),
            organisation_number: Some("991825827".into()),
        };
        assert!(person("03037012345", &[("991825827", "DAGL")]).is_assignee(&dagl));
        assert!(!person("03037012345", &[("991825827", "REGNA")]).is_assignee(&dagl));
        assert!(!person("03037012345", &[("999888777", "DAGL")]).is_assignee(&dagl));
        assert!(!organisation("991825827").is_assignee(&dagl));
        // A person owns the instance: nobody holds a role for a person.
        let nobody = Assignee::Role {
            role: "DAGL".into(),
            organisation_number: None,
        };
        assert!(!person("03037012345", &[("991825827", "DAGL")]).is_assignee(&nobody));
    }
}
