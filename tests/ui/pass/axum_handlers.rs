//! Annotated functions stay axum handlers: extractors, `State`,
//! `#[debug_handler]`, and the three return shapes (`Result<_, Error>`,
//! the handler's own error type, an axum `Response`).
#![deny(warnings)]

use axum::debug_handler;
use axum::extract::{Json, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use monitor_runtime::{monitored, stack_on_timeout, Error};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
struct AppState {
    greeting: Arc<str>,
}

#[monitored(timeout = "50ms", max_active = 10)]
async fn plain(Path(id): Path<u64>) -> Result<String, Error> {
    Ok(format!("item {id}"))
}

#[debug_handler]
#[monitored(timeout = "50ms", max_active = 10)]
async fn with_state(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, Error> {
    Ok(format!("{} {}", state.greeting, q.len()))
}

enum AppError {
    Monitor(Error),
    NotFound,
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Monitor(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Monitor(e) => e.into_response(),
            AppError::NotFound => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

#[monitored(max_active = 2)]
async fn own_error(Json(body): Json<Vec<u8>>) -> Result<Json<usize>, AppError> {
    if body.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(Json(body.len()))
}

#[debug_handler]
#[monitored(timeout = "1s")]
async fn response(State(state): State<AppState>) -> Response {
    state.greeting.to_string().into_response()
}

#[debug_handler]
#[stack_on_timeout(5s)]
async fn reported(State(state): State<AppState>) -> String {
    state.greeting.to_string()
}

pub(crate) fn main() {
    let app: Router = Router::new()
        .route("/plain/{id}", get(plain))
        .route("/state", get(with_state))
        .route("/own", post(own_error))
        .route("/response", get(response))
        .route("/reported", get(reported))
        .nest("/debug/monitor", monitor_runtime::http::router())
        .with_state(AppState {
            greeting: "hello".into(),
        });
    let _ = app;
}
