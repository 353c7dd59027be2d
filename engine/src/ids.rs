//! Identifier newtypes. Each parses at the edge and refuses the wrong kind, so a function that
//! takes an [`InstanceId`] can never be handed an element id by mistake.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// An app: `org/app`, both parts lower-case letters, digits and `-`/`_`/`.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppId {
    org: String,
    app: String,
}

impl AppId {
    pub fn new(org: &str, app: &str) -> Result<Self, IdError> {
        for (part, kind) in [(org, "org"), (app, "app name")] {
            let starts_well = part
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
            if !starts_well || part.len() > 64 || !part.chars().all(is_name_char) {
                return Err(IdError {
                    kind,
                    value: part.to_string(),
                    reason: "use 1-64 characters from a-z, 0-9, '-', '_' and '.', starting with a letter or digit",
                });
            }
        }
        Ok(AppId {
            org: org.to_string(),
            app: app.to_string(),
        })
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    pub fn app(&self) -> &str {
        &self.app
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.org, self.app)
    }
}

impl FromStr for AppId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (org, app) = s.split_once('/').ok_or_else(|| IdError {
            kind: "app id",
            value: s.to_string(),
            reason: "expected `org/app`",
        })?;
        AppId::new(org, app)
    }
}

impl TryFrom<String> for AppId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<AppId> for String {
    fn from(id: AppId) -> String {
        id.to_string()
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new_random() -> Self {
                $name(uuid::Uuid::new_v4())
            }
            /// A new time-ordered (v7) id: ids made one after another sort in that order, so
            /// keys written together land next to each other in the store's B-trees.
            pub fn new_time_ordered() -> Self {
                $name(uuid::Uuid::now_v7())
            }
            pub fn from_uuid(id: uuid::Uuid) -> Self {
                $name(id)
            }
            pub fn as_uuid(&self) -> &uuid::Uuid {
                &self.0
            }
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(uuid::Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                uuid::Uuid::parse_str(s).map($name).map_err(|_| IdError {
                    kind: $kind,
                    value: s.chars().take(64).collect(),
                    reason: "expected a UUID like 3f2c7a54-0b1e-4c3d-9a8b-1c2d3e4f5a6b",
                })
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// An instance's guid (the `{instanceGuid}` of the Altinn routes).
    InstanceId,
    "instance id"
);

uuid_id!(
    /// A durable job's key.
    JobKey,
    "job key"
);

uuid_id!(
    /// A signal broadcast: the durable record of one thrown or published signal and its
    /// deliveries.
    BroadcastId,
    "broadcast id"
);

uuid_id!(
    /// A binary data element (an attachment, a PDF receipt) of an instance.
    DataElementId,
    "data element id"
);

/// A party: the numeric id of a person or organisation that owns instances (Altinn's `partyId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyId(pub u64);

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for PartyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        s.parse::<u64>().map(PartyId).map_err(|_| IdError {
            kind: "party id",
            value: s.chars().take(64).collect(),
            reason: "expected a positive integer",
        })
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// The id of a BPMN element (task, event, gateway or flow) as written in the file.
    ElementId
);

string_id!(
    /// The id of a data type of an app (`model`, `attachments`, ...).
    DataTypeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_round_trips_and_refuses_garbage() {
        let id: AppId = "ttd/my-app".parse().unwrap();
        assert_eq!(id.org(), "ttd");
        assert_eq!(id.to_string(), "ttd/my-app");
        assert!("ttd".parse::<AppId>().is_err());
        assert!("ttd/../x".parse::<AppId>().is_err());
        assert!("ttd/..".parse::<AppId>().is_err());
        assert!("t d/app".parse::<AppId>().is_err());
    }

    #[test]
    fn instance_id_refuses_non_uuid() {
        assert!("not-a-uuid".parse::<InstanceId>().is_err());
        let id = InstanceId::new_random();
        assert_eq!(id.to_string().parse::<InstanceId>().unwrap(), id);
    }
}
