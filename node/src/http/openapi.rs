//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the
//! types they answer with; served at `/api/openapi.json`.

use super::{account, api, live, sso};
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "manofwar",
        description = "A home media server: libraries, items, accounts. Media (HLS) is below each item's signed `hls_url`."
    ),
    paths(
        api::list,
        api::libraries,
        api::scan,
        api::detail,
        api::transcode,
        api::poster,
        api::position,
        account::login,
        account::logout,
        account::me,
        account::setup_state,
        account::setup,
        sso::state,
        sso::start,
        sso::callback,
        account::users,
        account::add_user,
        account::update_user,
        account::delete_user,
        account::tokens,
        account::create_token,
        account::revoke_token,
        account::audit,
        account::sessions,
        account::end_session_by_id,
        live::stats,
        live::events,
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
pub struct Doc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`manofwar token create`, POST /api/v1/tokens)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::guard::COOKIE_NAME,
                "The session cookie of POST /api/v1/auth/login; state-changing calls also send X-CSRF-Token",
            ))),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(Doc::openapi())
}
