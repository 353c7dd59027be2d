//! Parties: the person or organisation that owns an instance.
//!
//! flyt has no party register. A party id is derived from the identifier, reversibly and
//! without collisions: an organisation's party id is its 9-digit organisation number; a
//! person's is 10^11 plus the 11-digit person number. Altinn ids are register-assigned, so a
//! flyt party id is only meaningful to flyt; the API accepts any of the three forms.

use crate::ids::PartyId;
use serde::{Deserialize, Serialize};

const PERSON_OFFSET: u64 = 100_000_000_000;

/// A person or an organisation, by its public identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Party {
    #[serde(rename_all = "camelCase")]
    Person { person_number: String },
    #[serde(rename_all = "camelCase")]
    Organisation { organisation_number: String },
}

impl Party {
    /// A person by an 11-digit national identity number.
    pub fn person(number: &str) -> Option<Self> {
        (number.len() == 11 && number.bytes().all(|b| b.is_ascii_digit())).then(|| Party::Person {
            person_number: number.to_string(),
        })
    }

    /// An organisation by a 9-digit organisation number.
    pub fn organisation(number: &str) -> Option<Self> {
        (number.len() == 9 && number.bytes().all(|b| b.is_ascii_digit())).then(|| {
            Party::Organisation {
                organisation_number: number.to_string(),
            }
        })
    }

    pub fn party_id(&self) -> PartyId {
        match self {
            Party::Organisation {
                organisation_number,
            } => PartyId(organisation_number.parse().unwrap_or(0)),
            Party::Person { person_number } => {
                PartyId(PERSON_OFFSET + person_number.parse::<u64>().unwrap_or(0))
            }
        }
    }

    /// The party a party id stands for, if it is one flyt can have issued.
    pub fn from_party_id(id: PartyId) -> Option<Self> {
        match id.0 {
            n if (100_000_000..1_000_000_000).contains(&n) => Party::organisation(&n.to_string()),
            n if (PERSON_OFFSET..2 * PERSON_OFFSET).contains(&n) => {
                Party::person(&format!("{:011}", n - PERSON_OFFSET))
            }
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Party::Person { .. } => "person",
            Party::Organisation { .. } => "organisation",
        }
    }
}

/// An instance's owner, in Altinn's shape: `{partyId, personNumber | organisationNumber}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOwner {
    pub party_id: PartyId,
    #[serde(flatten)]
    pub party: Party,
}

impl InstanceOwner {
    pub fn new(party: Party) -> Self {
        InstanceOwner {
            party_id: party.party_id(),
            party,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_ids_round_trip_without_collisions() {
        let org = Party::organisation("991825827").unwrap();
        let person = Party::person("01017012345").unwrap();
        assert_eq!(org.party_id(), PartyId(991_825_827));
        assert_eq!(Party::from_party_id(org.party_id()), Some(org));
        assert_eq!(
            Party::from_party_id(person.party_id()),
            Some(person.clone())
        );
        assert_ne!(person.party_id(), PartyId(1_017_012_345));
        assert!(Party::person("123").is_none());
        assert!(Party::organisation("12345678x").is_none());
        assert!(Party::from_party_id(PartyId(42)).is_none());
    }

    #[test]
    fn owner_serialises_in_altinn_shape() {
        let owner = InstanceOwner::new(Party::organisation("991825827").unwrap());
        let json = serde_json::to_value(&owner).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"partyId": 991825827, "organisationNumber": "991825827"})
        );
    }
}
