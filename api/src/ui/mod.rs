//! The browser pages: `/designer` (draw, validate with the server's own rules, deploy) and
//! `/operate` (instances, where they stand, incidents with retry).
//!
//! Every file is compiled into the binary (`include_bytes!`), so nothing is fetched at run time
//! and the pages match the server they come from. The pages are static: they hold no data and
//! add no power. They call the documented API with a bearer token kept in the page's memory, so
//! a page can show only what its caller could `GET` anyway, and every write goes through the
//! same guarded routes as any other client.
//!
//! The pages' own code is in `api/ui/` (plain JavaScript, no build step); bpmn-js (the bpmn.io
//! modeler and viewer) is vendored unchanged in `api/ui/vendor/bpmn-js/` with its licence.
//! Each answer carries a Content-Security-Policy that allows scripts only from this server (no
//! inline script, no `eval`), so markup that reaches a page in a name or a data value cannot
//! run even if it were ever inserted as HTML; the pages insert data only as text.

use crate::state::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy every page and asset is served with. `style-src 'unsafe-inline'` because
/// bpmn-js positions overlays and the palette with inline styles; scripts are never inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// One embedded file: the name under `/ui/`, its media type, its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $media_type:expr, $path:literal) => {
        Asset {
            name: $name,
            media_type: $media_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

static PAGES: [Asset; 2] = [
    asset!("designer", HTML, "designer.html"),
    asset!("operate", HTML, "operate.html"),
];

static ASSETS: [Asset; 14] = [
    asset!("layout.js", JS, "layout.js"),
    asset!("ui.css", CSS, "ui.css"),
    asset!("common.js", JS, "common.js"),
    asset!("moddle.js", JS, "moddle.js"),
    asset!("designer.js", JS, "designer.js"),
    asset!("operate.js", JS, "operate.js"),
    asset!(
        "vendor/bpmn-js/bpmn-modeler.production.min.js",
        JS,
        "vendor/bpmn-js/bpmn-modeler.production.min.js"
    ),
    asset!(
        "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js",
        JS,
        "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"
    ),
    asset!(
        "vendor/bpmn-js/assets/diagram-js.css",
        CSS,
        "vendor/bpmn-js/assets/diagram-js.css"
    ),
    asset!(
        "vendor/bpmn-js/assets/bpmn-js.css",
        CSS,
        "vendor/bpmn-js/assets/bpmn-js.css"
    ),
    asset!(
        "vendor/bpmn-js/assets/bpmn-font/css/bpmn.css",
        CSS,
        "vendor/bpmn-js/assets/bpmn-font/css/bpmn.css"
    ),
    asset!(
        "vendor/bpmn-js/assets/bpmn-font/font/bpmn.woff2",
        "font/woff2",
        "vendor/bpmn-js/assets/bpmn-font/font/bpmn.woff2"
    ),
    asset!(
        "vendor/bpmn-js/LICENSE",
        "text/plain; charset=utf-8",
        "vendor/bpmn-js/LICENSE"
    ),
    asset!("template.bpmn", "application/xml", "template.bpmn"),
];

/// `/designer`, `/operate` and their files under `/ui/`. Not part of the OpenAPI document: these
/// are pages, not API operations, and they answer the same to everyone.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/designer", get(|| async { page("designer") }))
        .route("/operate", get(|| async { page("operate") }))
        .route("/ui/{*file}", get(file))
}

fn page(name: &str) -> Response {
    match PAGES.iter().find(|p| p.name == name) {
        Some(page) => serve(page),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(asset) => serve(asset),
        None => crate::error::ApiError::NotFound(format!("no file /ui/{file}")).into_response(),
    }
}

fn serve(asset: &Asset) -> Response {
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change only with the binary; revalidating keeps an upgraded server's pages fresh.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for asset in PAGES.iter().chain(ASSETS.iter()) {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
            assert!(!asset.media_type.is_empty());
        }
    }

    #[test]
    fn pages_load_no_inline_script() {
        for page in &PAGES {
            let text = std::str::from_utf8(page.bytes).unwrap_or_default();
            for script in text.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(
                    tag.contains("src="),
                    "{}: an inline <script> (the CSP refuses it)",
                    page.name
                );
                let body = script.split_once('>').map(|(_, b)| b).unwrap_or_default();
                assert!(body.trim_start().starts_with("</script"), "{}", page.name);
            }
            assert!(!text.contains(" onclick=") && !text.contains(" onload="));
        }
    }
}
