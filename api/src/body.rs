//! JSON request bodies as the document describes them: an object, read into
//! its type. serde also reads a struct from a JSON array (its fields in
//! order), which no client of the document sends; such a body is refused
//! like any other of the wrong shape.

use axum::Json;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ApiError;

/// A JSON object body read into `T`: 415 without a JSON `Content-Type`, 400
/// when it does not parse, 422 when it is not an object of `T`'s shape.
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + Serialize, S: Send + Sync> FromRequest<S> for JsonObject<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let Json(value) = <Json<Value> as FromRequest<S>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match value {
            Value::Object(object) => object_of(object).map_err(IntoResponse::into_response),
            _ => Err(not_an_object().into_response()),
        }
    }
}

/// A body that may be left out: none without a `Content-Type`, or when it
/// is JSON `null`.
impl<T: DeserializeOwned + Serialize, S: Send + Sync> OptionalFromRequest<S> for JsonObject<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Response> {
        if !request
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
        {
            return Ok(None);
        }
        let Json(value) = <Json<Value> as FromRequest<S>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match value {
            Value::Null => Ok(None),
            Value::Object(object) => object_of(object)
                .map(Some)
                .map_err(IntoResponse::into_response),
            _ => Err(not_an_object().into_response()),
        }
    }
}

fn object_of<T: DeserializeOwned + Serialize>(
    object: Map<String, Value>,
) -> Result<JsonObject<T>, ApiError> {
    let read: T = serde_json::from_value(Value::Object(object)).map_err(|err| {
        ApiError::Unprocessable(format!("the body is not of the documented shape: {err}"))
    })?;
    // No read model can store U+0000, and the document says no text of a
    // body holds it; fields it does not name are passed over unread.
    let known = serde_json::to_value(&read).unwrap_or_default();
    if let Some(path) = domain::text::nul_in_value("body", &known) {
        return Err(ApiError::Unprocessable(format!("{path} holds U+0000")));
    }
    Ok(JsonObject(read))
}

fn not_an_object() -> ApiError {
    ApiError::Unprocessable("the body is not a JSON object".into())
}

/// A JSON Schema integer: `5` and `5.0` alike (serde reads only the first
/// as an integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole<T>(pub T);

impl<T: Serialize> Serialize for Whole<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: TryFrom<i64>> serde::Deserialize<'de> for Whole<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let number = serde_json::Number::deserialize(deserializer)?;
        let whole = match (number.as_i64(), number.as_f64()) {
            (Some(whole), _) => Some(whole),
            (None, Some(float)) if float.fract() == 0.0 && float.abs() < 9.0e15 => {
                Some(float as i64)
            }
            _ => None,
        };
        whole
            .and_then(|whole| T::try_from(whole).ok())
            .map(Whole)
            .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number in range")))
    }
}
