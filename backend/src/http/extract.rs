//! `ApiJson<T>`: the JSON body extractor every endpoint uses, so that bad bodies get the same
//! problem shapes everywhere: 415 without a JSON content type, 413 over the size limit (checked
//! against `Content-Length` before reading, and while reading), 400 when the body is not a JSON
//! object, 422 naming the field when a value has the wrong type (`null` included: no request
//! field is nullable) or the field is unknown (request types deny unknown fields, and the
//! OpenAPI document says `additionalProperties: false`).

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web::BytesMut};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::config::MAX_BODY_BYTES;
use crate::domain::{FieldCode, FieldError};
use crate::error::ApiError;

#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_headers(req);
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| match e {
                    actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
                    other => {
                        ApiError::MalformedBody(format!("the body could not be read ({other})"))
                    }
                })?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(ApiJson)
        })
    }
}

fn check_headers(req: &HttpRequest) -> Result<(), ApiError> {
    // JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset would be parsed as
    // something it is not.
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
                && m.get_param(mime::CHARSET)
                    .is_none_or(|charset| charset.as_str().eq_ignore_ascii_case("utf-8"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(())
}

/// Parses a body: syntax first (400), then shape (400 unless an object), then field types (422).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::MalformedBody(if e.is_eof() && body.iter().all(u8::is_ascii_whitespace) {
            "the body is empty".to_owned()
        } else {
            format!("invalid JSON at line {} column {}", e.line(), e.column())
        })
    })?;
    let serde_json::Value::Object(fields) = &value else {
        return Err(ApiError::MalformedBody(format!(
            "expected an object, got {}",
            json_kind(&value)
        )));
    };
    let nulls: Vec<FieldError> = fields
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(name, _)| {
            FieldError::new(
                name,
                FieldCode::InvalidType,
                format!("{name} must not be null."),
            )
        })
        .collect();
    if !nulls.is_empty() {
        return Err(ApiError::Validation(nulls));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        // serde's wording for `deny_unknown_fields`: "unknown field `x`, expected …".
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
        {
            return ApiError::Validation(vec![FieldError::new(
                name,
                FieldCode::UnknownField,
                format!("{name} is not a field of this request."),
            )]);
        }
        let field = e.path().to_string();
        let expected = message
            .split_once(", expected ")
            .map(|(_, exp)| exp.to_owned())
            .unwrap_or_else(|| "a different type".to_owned());
        ApiError::Validation(vec![FieldError::new(
            &field,
            FieldCode::InvalidType,
            format!("{field} must be {expected}."),
        )])
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Collects `required` errors for absent fields, so one response lists every missing field.
#[derive(Debug, Default)]
pub struct Required(Vec<FieldError>);

impl Required {
    pub fn take<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.0.push(FieldError::required(field));
        }
        value
    }

    /// The problem listing every missing field.
    pub fn into_error(self) -> ApiError {
        ApiError::Validation(self.0)
    }

    /// Both fields, or one problem naming each that is missing.
    pub fn pair<A, B>(
        (a_name, a): (&str, Option<A>),
        (b_name, b): (&str, Option<B>),
    ) -> Result<(A, B), ApiError> {
        let mut required = Self::default();
        match (required.take(a_name, a), required.take(b_name, b)) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(required.into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: Option<String>,
        #[allow(dead_code)]
        flag: Option<bool>,
    }

    fn err(body: &str) -> ApiError {
        parse::<Body>(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn classifies_bad_bodies() {
        assert!(matches!(err(""), ApiError::MalformedBody(d) if d.contains("empty")));
        assert!(matches!(err("{\"name\":"), ApiError::MalformedBody(_)));
        assert!(matches!(err("[1,2]"), ApiError::MalformedBody(d) if d.contains("array")));
        assert!(matches!(err("\"x\""), ApiError::MalformedBody(_)));
        assert!(matches!(
            err("{\"name\":\"\\ud800\"}"),
            ApiError::MalformedBody(_)
        ));
        match err("{\"name\": 5}") {
            ApiError::Validation(errors) => {
                assert_eq!(errors[0].field, "name");
                assert_eq!(errors[0].code, FieldCode::InvalidType);
                assert!(
                    errors[0].message.contains("a string"),
                    "{}",
                    errors[0].message
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let ok: Body = parse(b"{\"name\":\"x\"}").expect("parses");
        assert_eq!(ok.name.as_deref(), Some("x"));
        let absent: Body = parse(b"{}").expect("optional fields may be absent");
        assert!(absent.name.is_none());
        match err("{\"name\":\"x\",\"extra\":[1]}") {
            ApiError::Validation(errors) => {
                assert_eq!(errors[0].field, "extra");
                assert_eq!(errors[0].code, FieldCode::UnknownField);
            }
            other => panic!("unexpected {other:?}"),
        }
        match err("{\"name\":null,\"flag\":null}") {
            ApiError::Validation(errors) => {
                assert_eq!(errors.len(), 2, "{errors:?}");
                assert!(errors.iter().all(|e| e.code == FieldCode::InvalidType));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
