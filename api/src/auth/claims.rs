//! From a verified token's claims to a [`Caller`].
//!
//! A token is first verified: signed with RS256 or ES256 by a key of a trusted issuer (`iss`),
//! with `exp`, `iss` and `aud` present, `aud` one of the configured audiences, `exp` not passed
//! and `nbf` (when present) reached, both with the configured leeway. Its claims then decide who
//! is calling:
//!
//! | claims | caller |
//! |---|---|
//! | `consumer` present | **organisation** (a Maskinporten-shaped token) |
//! | no `consumer`, `pid` present | **user** (a person) |
//! | neither | refused: `the token names no caller` |
//!
//! **Organisation** (`Caller::Organisation`):
//! - `consumer`: `{"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}`. `ID` must be
//!   `0192:` followed by a 9-digit organisation number, which becomes `organisationNumber`.
//!   `authority`, when present, must be `iso6523-actorid-upis`.
//! - `urn:altinn:org` (or, if absent, `org`): the service owner's org code, e.g. `ttd`
//!   → `orgCode`. Optional.
//! - `client_id`: the Maskinporten client → `clientId`. Optional.
//! - `scope`: space-separated scopes → `scopes`. Optional (no scopes).
//!
//! **User** (`Caller::User`):
//! - `pid`: the 11-digit national identity number → `personNumber`.
//! - `roles`: an array of `"ORGNO:CODE"` strings, e.g. `["991825827:DAGL", "991825827:REGNA"]`
//!   → `roles` (organisation number → set of role codes). ORGNO is 9 digits; CODE is 1–64
//!   letters, digits, `-` or `_`. Optional (no roles).
//! - `scope`: space-separated scopes → `scopes`. Optional (no scopes).
//!
//! A claim with the wrong type or form (e.g. `pid` of 10 digits, `roles` that is a string, a
//! role without `:`) refuses the token with a message naming the claim; nothing is guessed.

use super::{AuthError, Caller, Organisation, User};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The ISO 6523 authority of Norwegian organisation numbers in `consumer`.
pub const CONSUMER_AUTHORITY: &str = "iso6523-actorid-upis";
/// The ISO 6523 ICD prefix of Norwegian organisation numbers.
pub const ORGNO_PREFIX: &str = "0192:";

/// The caller named by verified claims (see the module documentation).
pub fn caller_from_claims(claims: &Map<String, Value>) -> Result<Caller, AuthError> {
    let scopes = scopes(claims)?;
    if let Some(consumer) = claims.get("consumer") {
        let organisation_number = consumer_orgno(consumer)?;
        let org_code = match claims.get("urn:altinn:org").or_else(|| claims.get("org")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_org_code(s) => Some(s.clone()),
            Some(_) => {
                return Err(AuthError::BadClaim(
                    "`urn:altinn:org` must be an org code of letters and digits".into(),
                ));
            }
        };
        let client_id = match claims.get("client_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(AuthError::BadClaim("`client_id` must be a string".into())),
        };
        return Ok(Caller::Organisation(Organisation {
            organisation_number,
            org_code,
            scopes,
            client_id,
        }));
    }
    if let Some(pid) = claims.get("pid") {
        let person_number = match pid {
            Value::String(s) if is_digits(s, 11) => s.clone(),
            _ => {
                return Err(AuthError::BadClaim(
                    "`pid` must be a string of 11 digits".into(),
                ));
            }
        };
        let roles = match claims.get("roles") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Array(items)) => {
                let mut roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for item in items {
                    let Some(text) = item.as_str() else {
                        return Err(AuthError::BadClaim(
                            "`roles` must be an array of \"ORGNO:CODE\" strings".into(),
                        ));
                    };
                    let (orgno, code) = parse_role(text).map_err(AuthError::BadClaim)?;
                    roles
                        .entry(orgno.to_string())
                        .or_default()
                        .insert(code.to_string());
                }
                roles
            }
            Some(_) => {
                return Err(AuthError::BadClaim(
                    "`roles` must be an array of \"ORGNO:CODE\" strings".into(),
                ));
            }
        };
        return Ok(Caller::User(User {
            person_number,
            roles,
            scopes,
        }));
    }
    Err(AuthError::BadClaim(
        "the token names no caller: it has neither `consumer` (organisation) nor `pid` (user)"
            .into(),
    ))
}

/// `"991825827:DAGL"` → `("991825827", "DAGL")`, or a message saying what is wrong.
pub fn parse_role(text: &str) -> Result<(&str, &str), String> {
    let Some((orgno, code)) = text.split_once(':') else {
        return Err(format!("role `{text}` is not \"ORGNO:CODE\""));
    };
    if !is_digits(orgno, 9) {
        return Err(format!(
            "role `{text}`: the organisation number must be 9 digits"
        ));
    }
    let code_ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !code_ok {
        return Err(format!(
            "role `{text}`: the role code must be 1-64 letters, digits, `-` or `_`"
        ));
    }
    Ok((orgno, code))
}

/// True when `s` is exactly `len` ASCII digits.
pub fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn scopes(claims: &Map<String, Value>) -> Result<BTreeSet<String>, AuthError> {
    match claims.get("scope") {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::String(s)) => Ok(s.split_ascii_whitespace().map(str::to_string).collect()),
        Some(_) => Err(AuthError::BadClaim(
            "`scope` must be a space-separated string".into(),
        )),
    }
}

fn consumer_orgno(consumer: &Value) -> Result<String, AuthError> {
    let bad = |what: &str| AuthError::BadClaim(format!("`consumer` {what}"));
    let Value::Object(consumer) = consumer else {
        return Err(bad(
            "must be an object {\"authority\": \"iso6523-actorid-upis\", \"ID\": \"0192:<orgno>\"}",
        ));
    };
    match consumer.get("authority") {
        None => {}
        Some(Value::String(a)) if a == CONSUMER_AUTHORITY => {}
        Some(_) => return Err(bad("`authority` must be `iso6523-actorid-upis`")),
    }
    let Some(id) = consumer.get("ID") else {
        return Err(AuthError::MissingClaim("consumer.ID".into()));
    };
    match id.as_str().and_then(|id| id.strip_prefix(ORGNO_PREFIX)) {
        Some(orgno) if is_digits(orgno, 9) => Ok(orgno.to_string()),
        _ => Err(bad(
            "`ID` must be `0192:` followed by a 9-digit organisation number",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn organisation_and_user_and_neither() {
        let org = caller_from_claims(&claims(json!({
            "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
            "urn:altinn:org": "ttd", "client_id": "c1", "scope": "a b"
        })))
        .unwrap();
        assert_eq!(
            org,
            Caller::Organisation(Organisation {
                organisation_number: "991825827".into(),
                org_code: Some("ttd".into()),
                scopes: ["a".to_string(), "b".to_string()].into(),
                client_id: Some("c1".into()),
            })
        );
        let user = caller_from_claims(&claims(json!({
            "pid": "01017012345", "roles": ["991825827:DAGL", "991825827:REGNA", "912345678:DAGL"]
        })))
        .unwrap();
        let Caller::User(user) = user else { panic!() };
        assert_eq!(user.roles["991825827"].len(), 2);
        assert!(user.scopes.is_empty());
        assert!(matches!(
            caller_from_claims(&claims(json!({"sub": "x"}))),
            Err(AuthError::BadClaim(_))
        ));
        for bad in [
            json!({"pid": "123"}),
            json!({"pid": "01017012345", "roles": "991825827:DAGL"}),
            json!({"pid": "01017012345", "roles": ["99182582:DAGL"]}),
            json!({"pid": "01017012345", "roles": ["991825827"]}),
            json!({"consumer": {"ID": "0192:12345678"}}),
            json!({"consumer": {"ID": "0088:991825827"}}),
            json!({"consumer": "0192:991825827"}),
            json!({"pid": "01017012345", "scope": ["a"]}),
        ] {
            assert!(caller_from_claims(&claims(bad.clone())).is_err(), "{bad}");
        }
    }
}
