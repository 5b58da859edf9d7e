//! A kubeconfig user's legacy `auth-provider`, resolved to a bearer token before kube sees it.
//!
//! kube (5.0, built without its `oauth` and `oidc` features) would handle these itself, and
//! for `gcp` with `cmd-path` it runs the command synchronously while the client is built, with
//! no deadline, and again whenever the token nears its expiry: a hung command would hang the
//! run past `--timeout`. So every provider is decided here, and kube only ever gets a static
//! token (or nothing, because the run stops):
//!
//! - `gcp`: `id-token`, else an `access-token` whose `expiry` is more than a minute away, is
//!   used as is (kube's order); else `cmd-path` is run with `cmd-args` (and without the
//!   variables of kube's `cmd-drop-env`) under the run's deadline, killed when it passes; its
//!   token is the `token-key` JSONPath of its JSON output (kube's path rules, same JSONPath
//!   crate), else its whole output. `expiry-key` must name an RFC 3339 time, as kube checks;
//!   the token is not refreshed during the run (which `--timeout` bounds). Without any of
//!   these, the token would come from Google application default credentials (kube: the
//!   `oauth` feature, a network call): refused, pointing at `gke-gcloud-auth-plugin`.
//! - `oidc`: the `id-token` as is (what kube without `oidc` does); it is never refreshed (no
//!   request to the issuer). Without one: refused.
//! - `azure` and any other name: refused (kube refuses them too), pointing at exec plugins.
//! - kubectl removed the `gcp` and `azure` auth-providers in 1.26
//!   (<https://github.com/kubernetes/kubernetes/pull/112341>: "The `gcp` and `azure` auth
//!   plugins have been removed from client-go and kubectl"); `gcp` is still run here because
//!   kube runs it, so kubeconfigs that work with kube-based tools keep working.
//!
//! Errors name the context and the command's file name and exit status only: the command's
//! output and the kubeconfig's values hold tokens.
//!
//! Layer: inventory (part of the live source). Imports the ground layer only.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::config::AuthProviderConfig;

use super::live::LiveError;

/// A cached `access-token` is used only while its `expiry` is further away than this (kube).
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// The bearer token `provider` gives for `context`; a command runs until `deadline` (the
/// instant and the `--timeout` it comes from).
pub(super) async fn token(
    provider: &AuthProviderConfig,
    context: &str,
    deadline: (Instant, Duration),
) -> Result<String, LiveError> {
    let refuse = |why: String| LiveError::Config(format!("context {context}: {why}"));
    match provider.name.as_str() {
        "gcp" => gcp(provider, context, deadline).await,
        "oidc" => provider.config.get("id-token").filter(|t| !t.is_empty()).cloned().ok_or_else(|| {
            refuse(
                "the oidc auth-provider has no id-token, and upgrade-preflight does not refresh OIDC tokens; \
                 use an exec credential plugin (such as kubelogin) or log in with kubectl first"
                    .to_string(),
            )
        }),
        "azure" => Err(refuse(
            "the azure auth-provider is not supported (kubectl removed it in 1.26); \
             use the kubelogin exec credential plugin (`kubelogin convert-kubeconfig`)"
                .to_string(),
        )),
        other => Err(refuse(format!(
            "the auth-provider {other} is not supported; use an exec credential plugin (users[].user.exec)"
        ))),
    }
}

async fn gcp(provider: &AuthProviderConfig, context: &str, deadline: (Instant, Duration)) -> Result<String, LiveError> {
    let config = &provider.config;
    if let Some(id_token) = config.get("id-token") {
        return Ok(id_token.clone());
    }
    if let (Some(access_token), Some(expiry)) = (config.get("access-token"), config.get("expiry")) {
        let expiry = expiry.parse::<Timestamp>().map_err(|_| {
            LiveError::Config(format!("context {context}: the gcp auth-provider's expiry is not an RFC 3339 time"))
        })?;
        if Timestamp::now() + EXPIRY_MARGIN < expiry {
            return Ok(access_token.clone());
        }
    }
    let Some(cmd_path) = config.get("cmd-path").filter(|c| !c.trim().is_empty()) else {
        return Err(LiveError::Config(format!(
            "context {context}: the gcp auth-provider without cmd-path needs Google application default \
             credentials, which upgrade-preflight does not read; use the gke-gcloud-auth-plugin exec \
             credential plugin that replaced it (`gcloud components install gke-gcloud-auth-plugin`, then \
             `gcloud container clusters get-credentials`)"
        )));
    };
    let name = Path::new(cmd_path).file_name().map_or_else(|| cmd_path.clone(), |n| n.to_string_lossy().to_string());
    let what = format!("gcp auth-provider command {name}");
    let fail = |why: &str| LiveError::Config(format!("context {context}: {what}: {why}"));
    let mut cmd = tokio::process::Command::new(cmd_path);
    // kube splits `cmd-args` on single spaces; splitting on runs of whitespace gives the same
    // arguments for every `cmd-args` kube would run correctly, without kube's empty arguments.
    cmd.args(config.get("cmd-args").map(String::as_str).unwrap_or_default().split_whitespace());
    // `cmd-drop-env` is kube's own addition (kube-rs/kube#1060).
    for var in config.get("cmd-drop-env").map(String::as_str).unwrap_or_default().split_whitespace() {
        cmd.env_remove(var);
    }
    let stdout = super::connect::run_bounded(cmd, &what, context, deadline).await?;
    let token = match config.get("token-key") {
        None => String::from_utf8(stdout).map_err(|_| fail("its output is not text"))?.trim().to_string(),
        Some(token_key) => {
            let json: serde_json::Value =
                serde_json::from_slice(&stdout).map_err(|_| fail("its output is not JSON (token-key is set)"))?;
            let token = json_string(&json, token_key).map_err(|why| fail(&format!("token-key {token_key}: {why}")))?;
            if let Some(expiry_key) = config.get("expiry-key") {
                let expiry =
                    json_string(&json, expiry_key).map_err(|why| fail(&format!("expiry-key {expiry_key}: {why}")))?;
                expiry
                    .parse::<Timestamp>()
                    .map_err(|_| fail(&format!("expiry-key {expiry_key}: its value is not an RFC 3339 time")))?;
            }
            token
        }
    };
    if token.is_empty() {
        return Err(fail("it printed no token"));
    }
    Ok(token)
}

/// The string at a kubeconfig `token-key`/`expiry-key` path in `json`, read as kube reads it:
/// `{.a.b}`, `.a.b`, `a.b` and `$.a.b` are the same JSONPath; the first match must be a string.
/// Errors say what is wrong, never what the output holds.
fn json_string(json: &serde_json::Value, key: &str) -> Result<String, &'static str> {
    use jsonpath_rust::JsonPath as _;
    let p = key.trim_matches(|c| c == '"' || c == '{' || c == '}');
    let path = if p.starts_with('$') {
        p.to_string()
    } else if p.starts_with('.') {
        format!("${p}")
    } else {
        format!("$.{p}")
    };
    let found = json.query(&path).map_err(|_| "not a valid JSONPath")?;
    match found.first() {
        None => Err("not found in its output"),
        Some(v) => v.as_str().map(str::to_string).ok_or("its value is not a string"),
    }
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn token_keys_are_read_as_kube_reads_them() {
        let json = serde_json::json!({"credential": {"access_token": "t", "token_expiry": 5}, "list": [{"a": "x"}]});
        for key in [
            "{.credential.access_token}",
            ".credential.access_token",
            "credential.access_token",
            "$.credential.access_token",
            "\"{.credential.access_token}\"",
        ] {
            assert_eq!(json_string(&json, key), Ok("t".to_string()), "{key}");
        }
        assert_eq!(json_string(&json, "{.list[0].a}"), Ok("x".to_string()));
        assert_eq!(json_string(&json, "{.credential.token_expiry}"), Err("its value is not a string"));
        assert_eq!(json_string(&json, "{.credential.missing}"), Err("not found in its output"));
        assert_eq!(json_string(&json, "{.credential[}"), Err("not a valid JSONPath"));
    }
}
