//! The SPA: its files are embedded in the binary (so the release binary works from any
//! directory) or read from `LATCHKEY_FRONTEND_DIR`. The app's screens (`/`, `/login`,
//! `/register`, `/dashboard`) all answer with `index.html`; the History API does the rest.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::config::Frontend;
use crate::error::ApiError;
use crate::http::middleware::SPA_CSP;

#[derive(RustEmbed)]
#[folder = "../frontend"]
struct Embedded;

/// Where the SPA's files come from.
#[derive(Debug, Clone)]
pub enum FrontendSource {
    Embedded,
    Dir(PathBuf),
    Off,
}

impl FrontendSource {
    pub fn from_settings(setting: Option<&Frontend>) -> Self {
        match setting {
            None => Self::Embedded,
            Some(Frontend::Dir(dir)) => Self::Dir(dir.clone()),
            Some(Frontend::Off) => Self::Off,
        }
    }

    fn read(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        match self {
            Self::Off => None,
            Self::Embedded => {
                let file = Embedded::get(path)?;
                Some((file.data, hex::encode(file.metadata.sha256_hash())))
            }
            Self::Dir(dir) => {
                let relative = Path::new(path);
                if relative
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
                {
                    return None;
                }
                let bytes = std::fs::read(dir.join(relative)).ok()?;
                let etag = hex::encode(Sha256::digest(&bytes));
                Some((Cow::Owned(bytes), etag))
            }
        }
    }
}

/// The screens of the SPA: each answers with `index.html`.
pub const SCREENS: [&str; 4] = ["/", "/login", "/register", "/dashboard"];

/// The methods the SPA's screens and files accept.
pub const ALLOW: &str = "GET, HEAD";

/// The file that answers `path` (a screen is `index.html`), if the path may name one.
fn file_for(path: &str) -> Option<&str> {
    if SCREENS.contains(&path) {
        return Some("index.html");
    }
    let file = path.trim_start_matches('/');
    (!file.is_empty() && file != "index.html").then_some(file)
}

/// A GET (or HEAD) that no route took: a screen, or a file of the SPA, or 404.
pub async fn serve_path(
    req: &HttpRequest,
    path: &str,
    source: &FrontendSource,
) -> Result<HttpResponse, ApiError> {
    let file = file_for(path).ok_or(ApiError::NotFound)?;
    serve(req, source, file).await
}

/// Whether `path` is a screen or a file of the SPA (so that another method gets 405, not 404).
pub async fn exists(path: &str, source: &FrontendSource) -> Result<bool, ApiError> {
    let Some(file) = file_for(path) else {
        return Ok(false);
    };
    Ok(read(source, file).await?.is_some())
}

/// A file's bytes and etag. Reading from disk blocks; the embedded copy is in memory.
async fn read(
    source: &FrontendSource,
    path: &str,
) -> Result<Option<(Cow<'static, [u8]>, String)>, ApiError> {
    match source {
        FrontendSource::Dir(_) => {
            let (source, owned_path) = (source.clone(), path.to_owned());
            web::block(move || source.read(&owned_path))
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading a frontend file: {e}")))
        }
        _ => Ok(source.read(path)),
    }
}

async fn serve(
    req: &HttpRequest,
    source: &FrontendSource,
    path: &str,
) -> Result<HttpResponse, ApiError> {
    let (bytes, etag) = read(source, path).await?.ok_or(ApiError::NotFound)?;
    let etag = format!("\"{}\"", &etag[..32.min(etag.len())]);
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, SPA_CSP));
    if fresh {
        return Ok(res.finish());
    }
    res.insert_header((
        header::CONTENT_TYPE,
        mime.essence_str().to_owned() + charset(&mime),
    ));
    Ok(res.body(match bytes {
        Cow::Borrowed(b) => web::Bytes::from_static(b),
        Cow::Owned(v) => web::Bytes::from(v),
    }))
}

fn charset(mime: &mime_guess::Mime) -> &'static str {
    if mime.type_() == mime::TEXT
        || mime.subtype() == mime::JAVASCRIPT
        || mime.subtype() == mime::JSON
    {
        "; charset=utf-8"
    } else {
        ""
    }
}
