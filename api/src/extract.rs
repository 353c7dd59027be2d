//! Request extraction with flyt's rules: bodies are read under a limit (an oversized body is
//! refused from its `Content-Length` before any of it is read, and a chunked one as soon as it
//! crosses the limit), JSON errors name the field, and `If-Match` becomes an expected version.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// Reads a body up to `limit` bytes.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(e) => Err(ApiError::bad_request(
            None,
            format!("could not read the request body: {e}"),
        )),
    }
}

/// A JSON body of type `T`, read under the JSON limit. Unknown fields are refused where `T`
/// says so (`deny_unknown_fields`), so a body cannot set server-owned fields.
#[derive(Debug)]
pub struct Json<T>(pub T, pub Bytes);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        json_media_type(&parts.headers)?;
        let bytes =
            read_limited(&parts.headers, body, state.config().limits.json_body_bytes).await?;
        let value = parse_json(&bytes)?;
        Ok(Json(value, bytes))
    }
}

/// The request's media type (`Content-Type` without parameters, lower case), or `None` when
/// it has none.
fn media_type(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| {
        ApiError::UnsupportedMediaType("the Content-Type header is not ASCII".into())
    })?;
    let media_type = text.split(';').next().unwrap_or("").trim();
    Ok(Some(media_type.to_ascii_lowercase()))
}

/// A JSON body may come as `application/json`, any `+json` type, or with no `Content-Type`.
fn json_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers)? {
        None => Ok(()),
        Some(t) if t == "application/json" || t.ends_with("+json") => Ok(()),
        Some(t) => Err(ApiError::UnsupportedMediaType(format!(
            "expected a JSON body (Content-Type: application/json), got `{t}`"
        ))),
    }
}

/// A BPMN upload may come as `application/xml`, `text/xml`, `application/bpmn+xml` or any other
/// `+xml` type, or with no `Content-Type`.
fn xml_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers)? {
        None => Ok(()),
        Some(t) if t == "application/xml" || t == "text/xml" || t.ends_with("+xml") => Ok(()),
        Some(t) => Err(ApiError::UnsupportedMediaType(format!(
            "expected BPMN XML (Content-Type: application/xml, text/xml, application/bpmn+xml or another +xml type), got `{t}`"
        ))),
    }
}

/// An optional JSON body: an empty body is `None`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        json_media_type(&parts.headers)?;
        let bytes =
            read_limited(&parts.headers, body, state.config().limits.json_body_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        Ok(OptionalJson(Some(parse_json(&bytes)?)))
    }
}

/// Parses a request body. Every flyt request body is a JSON object (the OpenAPI document says
/// so), and serde would otherwise read a struct from an array too (`[]` as "all defaults").
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                None,
                "invalid JSON body: expected a JSON object `{...}`",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                None,
                "invalid JSON body: the body is empty; expected a JSON object `{...}`",
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error(de)
}

fn serde_path_to_error<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    let bad = |e: serde_json::Error| {
        let message = e.to_string();
        // serde_json names unknown fields and types in its message; keep it, with the position.
        let field = message.split('`').nth(1).map(str::to_string);
        ApiError::BadRequest {
            field,
            message: format!("invalid JSON body: {message}"),
        }
    };
    let value = T::deserialize(&mut *de).map_err(bad)?;
    // Nothing but whitespace may follow the value (`{...} [1]` is not one JSON body).
    de.end().map_err(bad)?;
    Ok(value)
}

/// `deserialize_with` for an optional nested struct field: accept only a JSON object (or
/// `null`), never the array form serde would also read a struct from.
pub fn object_opt<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize;
    use serde::de::Error;
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(de)? {
        None => Ok(None),
        Some(map) => T::deserialize(serde_json::Value::Object(map))
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// A BPMN upload, sent as XML (see [`xml_media_type`]), read under the BPMN limit.
#[derive(Debug)]
pub struct BpmnBody(pub Bytes);

impl FromRequest<AppState> for BpmnBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        xml_media_type(&parts.headers)?;
        let bytes =
            read_limited(&parts.headers, body, state.config().limits.bpmn_body_bytes).await?;
        Ok(BpmnBody(bytes))
    }
}

/// `If-Match`: the instance version the client expects (`"5"`, `W/"5"` or `5`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = raw
            .to_str()
            .map_err(|_| ApiError::bad_request(Some("If-Match".into()), "If-Match is not ASCII"))?
            .trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let tag = text.trim_start_matches("W/").trim_matches('"');
        tag.parse::<u64>().map(|v| IfMatch(Some(v))).map_err(|_| {
            ApiError::bad_request(
                Some("If-Match".into()),
                format!(
                    "If-Match `{text}` is not an instance version (the ETag of a read, e.g. \"3\")"
                ),
            )
        })
    }
}

/// `Idempotency-Key`: 1-255 visible ASCII characters.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let key = raw.to_str().map_err(|_| {
            ApiError::bad_request(
                Some("Idempotency-Key".into()),
                "Idempotency-Key is not ASCII",
            )
        })?;
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                Some("Idempotency-Key".into()),
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::{json_media_type, parse_json, xml_media_type};
    use crate::error::ApiError;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn with_type(media_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(t) = media_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        headers
    }

    #[test]
    fn bpmn_routes_accept_xml_media_types_and_refuse_others_with_415() {
        for ok in [
            None,
            Some("application/xml"),
            Some("text/xml; charset=utf-8"),
            Some("application/bpmn+xml"),
            Some("Application/XML"),
            Some("application/vnd.camunda+xml"),
        ] {
            assert!(xml_media_type(&with_type(ok)).is_ok(), "{ok:?}");
        }
        for refused in [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "xml",
        ] {
            match xml_media_type(&with_type(Some(refused))) {
                Err(e @ ApiError::UnsupportedMediaType(_)) => {
                    assert!(e.to_string().contains("application/xml"), "{e}");
                    assert!(e.to_string().contains(refused), "{e}");
                }
                other => panic!("{refused}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_routes_accept_json_media_types_and_refuse_others_with_415() {
        for ok in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/merge-patch+json"),
        ] {
            assert!(json_media_type(&with_type(ok)).is_ok(), "{ok:?}");
        }
        for refused in ["application/xml", "text/plain", "application/jsonx"] {
            assert!(
                matches!(
                    json_media_type(&with_type(Some(refused))),
                    Err(ApiError::UnsupportedMediaType(_))
                ),
                "{refused}"
            );
        }
    }
    use crate::routes::instances::CreateInstanceRequest;

    fn refused(body: &str) -> String {
        match parse_json::<CreateInstanceRequest>(body.as_bytes()) {
            Err(ApiError::BadRequest { message, .. }) => message,
            other => panic!("{body} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_body_must_be_an_object_not_an_array_serde_would_read_as_defaults() {
        assert!(refused("[]").contains("expected a JSON object"));
        assert!(refused("  [null]").contains("expected a JSON object"));
        assert!(refused("\"x\"").contains("expected a JSON object"));
        assert!(refused("").contains("empty"));
        assert!(refused(r#"{"instanceOwner": []}"#).contains("map"));
        let ok: CreateInstanceRequest =
            parse_json(br#" {"instanceOwner": {"personNumber": "01017012345"}}"#).unwrap();
        assert_eq!(
            ok.instance_owner.unwrap().person_number.as_deref(),
            Some("01017012345")
        );
        let none: CreateInstanceRequest = parse_json(br#"{"instanceOwner": null}"#).unwrap();
        assert!(none.instance_owner.is_none());
    }

    #[test]
    fn nothing_but_whitespace_may_follow_the_object() {
        assert!(refused(r#"{} [1]"#).contains("trailing"));
        assert!(refused(r#"{}garbage"#).contains("trailing"));
        let ok: Result<CreateInstanceRequest, _> = parse_json(b"{} \n\t ");
        assert!(ok.is_ok());
    }
}
