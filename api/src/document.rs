//! What the OpenAPI document says of every operation alike, derived from
//! the route table and the extractors rather than written per handler:
//! who may call it (a bearer session, from [`crate::audience`]), and the
//! refusals every handler of its kind can answer, each with the JSON error
//! body.

use axum::http::Method;
use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::audience::{self, Audience};
use crate::text::WITHOUT_NUL;

/// The name of the bearer session scheme in the document.
const SESSION: &str = "session";

/// Adds the security requirement and the common refusals to every
/// operation.
pub struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API session token (a Bluesky login, or `openmeet-sync auth session`)",
                    ))
                    .build(),
            ),
        );
        let mut bodies = Vec::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    describe(operation, audience::of(&method, path));
                    for content in operation
                        .request_body
                        .iter_mut()
                        .flat_map(|body| body.content.values_mut())
                    {
                        if let Some(schema) = &mut content.schema {
                            without_nul(schema, &mut bodies);
                        }
                    }
                }
            }
        }
        // The schemas bodies refer to, and those they refer to in turn.
        let mut done = std::collections::BTreeSet::new();
        while let Some(name) = bodies.pop() {
            if !done.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = components.schemas.get_mut(&name) {
                without_nul(schema, &mut bodies);
            }
        }
    }
}

/// Adds what `operation`, answering `audience`, can refuse, and that its
/// text parameters hold no NUL.
fn describe(operation: &mut Operation, audience: Option<Audience>) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
            && is_text(&schema.schema_type)
            && schema.pattern.is_none()
        {
            schema.pattern = Some(WITHOUT_NUL.into());
        }
    }
    if matches!(audience, Some(Audience::Session | Audience::Administrators)) {
        operation.security = Some(vec![SecurityRequirement::new(
            SESSION,
            Vec::<String>::new(),
        )]);
        refuses(operation, "401", "no session, or an unknown or expired one");
        refuses(
            operation,
            "403",
            "the session's account may not do this (a shadow or inactive account, or not the owner or an administrator)",
        );
    }
    if operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty())
    {
        refuses(operation, "400", "a parameter is missing or does not parse");
    }
    if takes(operation, "after") {
        refuses(
            operation,
            "409",
            "`after` is beyond the log's head (the message names the head)",
        );
        refuses_for_now(
            operation,
            "503",
            "the read model has not reached `after` within the wait; retry after `Retry-After` seconds",
        );
    }
    if let Some(json) = operation.request_body.as_ref().map(takes_json) {
        refuses(operation, "400", "the body does not parse");
        refuses(operation, "413", "the body is larger than 2 MiB");
        if json {
            refuses(operation, "415", "the body is not sent as application/json");
            refuses(
                operation,
                "422",
                "the body is JSON, but not of the documented shape",
            );
        }
    }
    refuses(
        operation,
        "405",
        "the path answers other methods (listed in Allow)",
    );
    refuses(operation, "500", "the server failed");
}

/// Says of every text in `schema` that it holds no NUL (the read models
/// cannot store one, and bodies holding one are refused), noting the
/// schemas it refers to in `refers`.
fn without_nul(schema: &mut RefOr<Schema>, refers: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(reference) => {
            if let Some(name) = reference.ref_location.strip_prefix("#/components/schemas/") {
                refers.push(name.to_owned());
            }
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            if is_text(&object.schema_type) && object.pattern.is_none() {
                object.pattern = Some(WITHOUT_NUL.into());
            }
            for property in object.properties.values_mut() {
                without_nul(property, refers);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                without_nul(items, refers);
            }
        }
        Schema::OneOf(one) => one
            .items
            .iter_mut()
            .for_each(|item| without_nul(item, refers)),
        Schema::AllOf(all) => all
            .items
            .iter_mut()
            .for_each(|item| without_nul(item, refers)),
        Schema::AnyOf(any) => any
            .items
            .iter_mut()
            .for_each(|item| without_nul(item, refers)),
        _ => {}
    }
}

fn is_text(kind: &SchemaType) -> bool {
    match kind {
        SchemaType::Type(kind) => *kind == Type::String,
        SchemaType::Array(kinds) => kinds.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

fn takes(operation: &Operation, parameter: &str) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name == parameter)
}

fn takes_json(body: &RequestBody) -> bool {
    body.content.contains_key("application/json")
}

/// Documents `status` as a refusal with the error body, unless the
/// operation documents it already.
fn refuses(operation: &mut Operation, status: &str, description: &str) {
    document(operation, status, refusal(description));
}

/// Documents `status` as a refusal the caller may retry after the seconds
/// its `Retry-After` header names.
fn refuses_for_now(operation: &mut Operation, status: &str, description: &str) {
    let retry_after = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("seconds to wait"))
        .build();
    document(
        operation,
        status,
        refusal(description).header("Retry-After", retry_after),
    );
}

fn refusal(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn document(operation: &mut Operation, status: &str, response: ResponseBuilder) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(response.build()));
}
