//! Schemas of form fields that the `ToSchema` derive cannot state (the `openapi` feature).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The public form's `consent`: `true` is the only value accepted.
pub(crate) fn consent() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some(
            "Consent to personal-data processing; must be `true`. Required.",
        ))
        .examples([true])
}
