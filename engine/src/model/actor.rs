//! Who did something: a person, an organisation, or flyt itself.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The performer of an action, recorded in history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Actor {
    /// A person, by national identity number.
    #[serde(rename_all = "camelCase")]
    User { person_number: String },
    /// An organisation (Maskinporten-style token), by organisation number, with its org code
    /// when it is a service owner.
    #[serde(rename_all = "camelCase")]
    Organisation {
        organisation_number: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        org_code: Option<String>,
    },
    /// flyt itself (a job worker, a hook).
    #[serde(rename_all = "camelCase")]
    System { component: String },
}

impl Actor {
    pub fn system(component: impl Into<String>) -> Self {
        Actor::System {
            component: component.into(),
        }
    }

    pub fn user(person_number: impl Into<String>) -> Self {
        Actor::User {
            person_number: person_number.into(),
        }
    }

    pub fn organisation(organisation_number: impl Into<String>) -> Self {
        Actor::Organisation {
            organisation_number: organisation_number.into(),
            org_code: None,
        }
    }
}

impl Actor {
    /// Who this is, in full, as a stable key (`person:…`, `org:…`, `system:…`): what
    /// idempotency keys are scoped by. Personal data: never for logs (use `Display`).
    pub fn identity(&self) -> String {
        match self {
            Actor::User { person_number } => format!("person:{person_number}"),
            Actor::Organisation {
                organisation_number,
                ..
            } => format!("org:{organisation_number}"),
            Actor::System { component } => format!("system:{component}"),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Person numbers are personal data: logs show only the birth date part.
            Actor::User { person_number } => {
                write!(
                    f,
                    "user:{}*****",
                    person_number.chars().take(6).collect::<String>()
                )
            }
            Actor::Organisation {
                organisation_number,
                ..
            } => write!(f, "org:{organisation_number}"),
            Actor::System { component } => write!(f, "system:{component}"),
        }
    }
}
