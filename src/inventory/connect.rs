//! Connecting like kubectl, without leaking what the kubeconfig holds.
//!
//! - The kubeconfig (`--kubeconfig`, else every file of `KUBECONFIG`, else `~/.kube/config`,
//!   else the in-cluster service account) is parsed here; a malformed one is reported by file,
//!   line and column, never by quoting it (it holds tokens and keys).
//! - An exec credential plugin is run here, under the run's deadline: it is killed when the
//!   deadline passes, and a failure names the command and its exit status only (its output
//!   may hold a token). So is a `gcp` auth-provider's `cmd-path`; the other legacy
//!   auth-providers are used or refused in `auth_provider` before kube sees them.
//! - Proxies as kubectl (client-go) chooses them: the cluster's `proxy-url`, else
//!   `HTTPS_PROXY`/`https_proxy` (`HTTP_PROXY` for an `http://` server) unless the server is
//!   loopback or matches `NO_PROXY`/`no_proxy`.
//! - `insecure-skip-tls-verify` gives one warning line on stderr.
//! - Every URL shown anywhere has its `user:password@` replaced ([`redact_urls`]).
//!
//! Layer: inventory (part of the live source). Imports the ground layer only.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::config::{AuthInfo, ExecConfig, KubeConfigOptions, Kubeconfig, KubeconfigError, LoadDataError};

use super::live::{LiveError, LiveOptions};

/// Largest kubeconfig file read.
const MAX_KUBECONFIG_BYTES: u64 = 16 << 20;

/// A client and how reports name its cluster.
pub(super) struct Connected {
    pub client: kube::Client,
    /// Server URL, credentials removed.
    pub url: String,
    /// Context name.
    pub context: String,
}

/// `text` with the userinfo (`user:password@`) of every URL in it replaced by `***@`.
#[must_use]
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace (or a quote).
        let end = tail.find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace());
        let authority = &tail[..end.unwrap_or(tail.len())];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority.len()..];
    }
    out.push_str(rest);
    out
}

/// Reads and parses one kubeconfig file; errors name the file, line and column only.
pub fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, String> {
    let text = match crate::limits::read_limited(path, MAX_KUBECONFIG_BYTES) {
        Ok(Some(t)) => t,
        Ok(None) => return Err(format!("{}: larger than {MAX_KUBECONFIG_BYTES} bytes", path.display())),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse_kubeconfig(&text, &path.display().to_string())
}

/// Parses kubeconfig text; `name` names it in errors, which quote nothing of `text`.
pub fn parse_kubeconfig(text: &str, name: &str) -> Result<Kubeconfig, String> {
    match Kubeconfig::from_yaml(text) {
        Ok(kc) => Ok(kc),
        Err(KubeconfigError::Parse(e)) => {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Err(format!("{name}:{line}:{col}: not a valid kubeconfig: {}", crate::limits::input_free_yaml_message(&e)))
        }
        Err(e) => Err(format!("{name}: {}", config_error(&e))),
    }
}

/// The kubeconfig kubectl would use (`--kubeconfig`, else `KUBECONFIG`'s files merged, else
/// `~/.kube/config`); `Ok(None)` when there is none (in-cluster is tried then).
pub fn load_kubeconfig(explicit: Option<&Path>) -> Result<Option<Kubeconfig>, String> {
    if let Some(path) = explicit {
        return read_kubeconfig(path).map(Some);
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let mut merged: Option<Kubeconfig> = None;
        let paths: Vec<PathBuf> = std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
        for path in &paths {
            // kubectl skips files of the list that do not exist.
            if !path.exists() {
                continue;
            }
            let kc = read_kubeconfig(path)?;
            merged = Some(match merged {
                None => kc,
                Some(m) => m.merge(kc).map_err(|e| format!("{}: {}", path.display(), config_error(&e)))?,
            });
        }
        return match merged {
            Some(kc) => Ok(Some(kc)),
            None => Err(format!(
                "no kubeconfig file of KUBECONFIG exists ({})",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )),
        };
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).map(|h| h.join(".kube").join("config"));
    match home {
        Some(path) if path.exists() => read_kubeconfig(&path).map(Some),
        _ => Ok(None),
    }
}

/// A kube configuration error in words that quote nothing from the kubeconfig.
fn config_error(e: &KubeconfigError) -> String {
    let data = |what: &str, e: &LoadDataError| match e {
        LoadDataError::DecodeBase64(b) => {
            format!("{what}-data is not valid base64 ({})", crate::limits::base64_reason(b))
        }
        LoadDataError::ReadFile(io, path) => format!("cannot read {what} {}: {io}", path.display()),
        LoadDataError::NoBase64DataOrFile => format!("no {what} data or file"),
    };
    match e {
        KubeconfigError::Parse(p) => format!("not a valid kubeconfig: {}", crate::limits::input_free_yaml_message(p)),
        KubeconfigError::ParseClusterUrl(_) => "the cluster's server is not a valid URL".to_string(),
        KubeconfigError::ParseProxyUrl(_) => "the cluster's proxy-url (or HTTPS_PROXY) is not a valid URL".to_string(),
        KubeconfigError::LoadCertificateAuthority(d) => data("certificate-authority", d),
        KubeconfigError::LoadClientCertificate(d) => data("client-certificate", d),
        KubeconfigError::LoadClientKey(d) => data("client-key", d),
        KubeconfigError::ParseCertificates(_) => "a certificate is not valid PEM".to_string(),
        KubeconfigError::ParseNoProxy(_) => "NO_PROXY cannot be parsed".to_string(),
        other => crate::limits::without_quoted(&redact_urls(&other.to_string())),
    }
}

/// Builds the client for `opts`' context. Credential commands (exec plugins, a gcp
/// auth-provider's `cmd-path`) run before `deadline` or are killed.
pub(super) async fn connect(opts: &LiveOptions, deadline: Instant) -> Result<Connected, LiveError> {
    // A context the kubeconfig lacks is a usage error that lists the ones it has.
    if let Some(c) = &opts.context {
        super::live::check_contexts(opts.kubeconfig.as_deref(), std::slice::from_ref(c))?;
    }
    let kubeconfig = load_kubeconfig(opts.kubeconfig.as_deref()).map_err(LiveError::Config)?;
    let Some(mut kc) = kubeconfig else {
        if let Some(ctx) = &opts.context {
            return Err(LiveError::Config(format!("no kubeconfig found for --context {ctx}")));
        }
        // No kubeconfig: the in-cluster service account, as kubectl in a Pod.
        let config = kube::Config::incluster().map_err(|e| {
            LiveError::Config(format!(
                "no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster: {}",
                crate::limits::without_quoted(&e.to_string())
            ))
        })?;
        return finish(config, None, opts, "in-cluster".to_string());
    };
    let context_name = opts
        .context
        .clone()
        .or_else(|| kc.current_context.clone())
        .ok_or_else(|| LiveError::Config("the kubeconfig has no current-context (give --context)".to_string()))?;
    let context = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| LiveError::Config(format!("the kubeconfig has no context {context_name}")))?;
    let cluster = kc.clusters.iter().find(|c| c.name == context.cluster).and_then(|c| c.cluster.clone());
    let proxy_url = cluster.as_ref().and_then(|c| c.proxy_url.clone()).filter(|p| !p.is_empty());
    let auth = context
        .user
        .as_ref()
        .and_then(|user_name| kc.auth_infos.iter_mut().find(|a| &a.name == user_name))
        .and_then(|named| named.auth_info.as_mut());
    if let Some(auth) = auth {
        // A legacy auth-provider wins over every other credential in kube, and kube would run
        // gcp's command without a deadline: resolved here instead, and kube gets its token.
        if let Some(provider) = auth.auth_provider.take() {
            if auth.exec.is_some() {
                return Err(LiveError::Config(format!(
                    "context {context_name}: its user has both an auth-provider and an exec credential \
                     plugin (kubectl refuses this too); keep one"
                )));
            }
            let token = super::auth_provider::token(&provider, &context_name, (deadline, opts.timeout)).await?;
            auth.username = None;
            auth.password = None;
            apply_credential(auth, Credential { token: Some(token), ..Credential::default() })?;
        } else if let Some(exec) = auth.exec.take() {
            let cluster_info = cluster.as_ref().map(|c| {
                serde_json::json!({
                    "server": c.server, "certificate-authority-data": c.certificate_authority_data,
                    "tls-server-name": c.tls_server_name, "insecure-skip-tls-verify": c.insecure_skip_tls_verify,
                    "proxy-url": c.proxy_url,
                })
            });
            let cred = run_exec(&exec, cluster_info, &context_name, (deadline, opts.timeout)).await?;
            apply_credential(auth, cred)?;
        }
    }
    let kopts = KubeConfigOptions { context: Some(context_name.clone()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(kc, &kopts)
        .await
        .map_err(|e| LiveError::Config(format!("context {context_name}: {}", config_error(&e))))?;
    finish(config, Some(proxy_url), opts, context_name)
}

/// Applies our timeouts, proxy choice and TLS warning, and builds the client.
fn finish(
    mut config: kube::Config,
    proxy_url: Option<Option<String>>,
    opts: &LiveOptions,
    context: String,
) -> Result<Connected, LiveError> {
    // Our own retry policy (see live.rs) replaces kube's, so every attempt is counted.
    config.default_retry = false;
    config.connect_timeout = Some(opts.request_timeout);
    // Our own per-request timeout (live.rs) is the one that fires and names the bound; kube's
    // read timeout is a backstop a second later, so the two never race.
    config.read_timeout = Some(opts.request_timeout + std::time::Duration::from_secs(1));
    let url = redact_urls(&config.cluster_url.to_string());
    config.proxy_url = match proxy_url {
        None => None,
        Some(explicit) => choose_proxy(explicit.as_deref(), &config.cluster_url, &|k| std::env::var(k).ok())
            .map_err(|e| LiveError::Config(format!("context {context}: {e}")))?,
    };
    if config.accept_invalid_certs {
        let _ = writeln!(
            std::io::stderr(),
            "upgrade-preflight: warning: context {context}: insecure-skip-tls-verify is set: the API server's certificate is not verified"
        );
    }
    let client = kube::Client::try_from(config).map_err(|e| {
        LiveError::Config(format!("context {context}: {}", crate::limits::without_quoted(&redact_urls(&e.to_string()))))
    })?;
    Ok(Connected { client, url, context })
}

/// The proxy client-go would use for `server`: the cluster's `proxy-url`, else the
/// environment's (`HTTPS_PROXY` for https, `HTTP_PROXY` for http; lowercase too), except for
/// loopback servers and those `NO_PROXY` names. `env` reads a variable.
pub fn choose_proxy(
    explicit: Option<&str>,
    server: &http::Uri,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<http::Uri>, String> {
    let parse = |s: &str, what: &str| -> Result<http::Uri, String> {
        // Go assumes http:// for a proxy given without a scheme.
        let s = if s.contains("://") { s.to_string() } else { format!("http://{s}") };
        let uri: http::Uri = s.parse().map_err(|_| format!("{what} is not a valid URL"))?;
        match uri.scheme_str() {
            Some("http" | "https" | "socks5") if uri.host().is_some() => Ok(uri),
            _ => Err(format!("{what} must be an http://, https:// or socks5:// URL with a host")),
        }
    };
    if let Some(p) = explicit {
        return parse(p, "proxy-url").map(Some);
    }
    let var = |names: [&str; 2]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
    let from_env = if server.scheme_str() == Some("http") {
        var(["HTTP_PROXY", "http_proxy"]).map(|v| (v, "HTTP_PROXY"))
    } else {
        var(["HTTPS_PROXY", "https_proxy"]).map(|v| (v, "HTTPS_PROXY"))
    };
    let Some((value, name)) = from_env else { return Ok(None) };
    let host = server.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = server.port_u16().unwrap_or(if server.scheme_str() == Some("http") { 80 } else { 443 });
    if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return Ok(None);
    }
    if let Some(no_proxy) = var(["NO_PROXY", "no_proxy"])
        && no_proxy_matches(&no_proxy, &host, port)
    {
        return Ok(None);
    }
    parse(&value, name).map(Some)
}

/// Go's `NO_PROXY` rules: `*`; IPs and CIDRs; `host`, `.host` or `*.host` (a domain and its
/// subdomains; a leading dot: subdomains only), each with an optional `:port`.
fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    no_proxy.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Ok(net) = entry.parse::<ipnet::IpNet>() {
            return ip.is_some_and(|ip| net.contains(&ip));
        }
        if let Ok(e) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return ip == Some(e);
        }
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((n, p)) if p.parse::<u16>().is_ok() => (n.to_string(), p.parse::<u16>().ok()),
            _ => (entry.clone(), None),
        };
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        if let Some(suffix) = name.strip_prefix("*.").or_else(|| name.strip_prefix('.')) {
            return host.ends_with(&format!(".{suffix}"));
        }
        host == name || host.ends_with(&format!(".{name}"))
    })
}

/// What an exec plugin gave.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Credential {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// Runs an exec credential plugin until it exits or `deadline` passes (then it is killed).
/// Its output is parsed, never printed; its stderr is discarded.
async fn run_exec(
    exec: &ExecConfig,
    cluster: Option<serde_json::Value>,
    context: &str,
    deadline: (Instant, Duration),
) -> Result<Credential, LiveError> {
    let Some(command) = exec.command.as_deref().filter(|c| !c.is_empty()) else {
        return Err(LiveError::Config(format!("context {context}: the exec credential plugin has no command")));
    };
    // The command's file name: enough to recognise it, nothing of its arguments or output.
    let name = Path::new(command).file_name().map_or_else(|| command.to_string(), |n| n.to_string_lossy().to_string());
    let fail = |why: String| LiveError::Config(format!("context {context}: exec credential plugin {name}: {why}"));
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(exec.args.iter().flatten());
    for env in exec.env.iter().flatten() {
        if let (Some(k), Some(v)) = (env.get("name"), env.get("value")) {
            cmd.env(k, v);
        }
    }
    for k in exec.drop_env.iter().flatten() {
        cmd.env_remove(k);
    }
    let mut spec = serde_json::json!({"interactive": false});
    if exec.provide_cluster_info
        && let Some(c) = cluster
    {
        spec["cluster"] = c;
    }
    let info = serde_json::json!({
        "apiVersion": exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".to_string()),
        "kind": "ExecCredential", "spec": spec,
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string());
    let stdout = run_bounded(cmd, &format!("exec credential plugin {name}"), context, deadline).await?;
    #[derive(serde::Deserialize)]
    struct ExecCredential {
        status: Option<Credential>,
    }
    let parsed: ExecCredential = serde_json::from_slice(&stdout)
        .ok()
        .or_else(|| serde_saphyr::from_slice(&stdout).ok())
        .ok_or_else(|| fail("its output is not an ExecCredential".to_string()))?;
    let cred = parsed.status.unwrap_or_default();
    if cred.token.is_none() && (cred.client_certificate_data.is_none() || cred.client_key_data.is_none()) {
        return Err(fail("its ExecCredential has neither a token nor a client certificate and key".to_string()));
    }
    Ok(cred)
}

/// The most a credential command may print: an ExecCredential is a few KiB (a certificate
/// chain at most); anything larger is not one, and is not held.
const CREDENTIAL_OUTPUT_LIMIT: u64 = 1 << 20;

/// How long a killed credential command is waited for: SIGKILL ends a process at once unless
/// it is stuck in the kernel (a hung NFS read, say), and the run must not wait on that.
const REAP_WAIT: Duration = Duration::from_secs(2);

/// Runs `cmd` (a credential command, `what` in errors) until it exits or the deadline passes
/// (then it is killed, and reaped before this returns, so that "it was stopped" is true when
/// the message is printed), and returns its stdout if it succeeded. `deadline` is the instant
/// and the `--timeout` it comes from (for the message). Its output is returned, never
/// printed, and bounded by [`CREDENTIAL_OUTPUT_LIMIT`]; its stderr is discarded; errors give
/// its exit status only.
pub(super) async fn run_bounded(
    mut cmd: tokio::process::Command,
    what: &str,
    context: &str,
    (deadline, timeout): (Instant, Duration),
) -> Result<Vec<u8>, LiveError> {
    use tokio::io::AsyncReadExt as _;
    let fail = |why: String| LiveError::Config(format!("context {context}: {what}: {why}"));
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    // A safety net only: every path below that leaves the command running kills it itself.
    cmd.kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot start: {}", e.kind())))?;
    let stdout = child.stdout.take();
    let read = async {
        let mut buf = Vec::new();
        if let Some(out) = stdout {
            // One byte over the limit tells "too much" from "exactly the limit".
            out.take(CREDENTIAL_OUTPUT_LIMIT + 1).read_to_end(&mut buf).await?;
        }
        Ok::<_, std::io::Error>(buf)
    };
    let ran = tokio::time::timeout_at(deadline.into(), async { tokio::try_join!(read, child.wait()) }).await;
    let (stdout, status) = match ran {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            stop(&mut child).await;
            return Err(fail(format!("failed: {}", e.kind())));
        }
        Err(_) => {
            stop(&mut child).await;
            return Err(fail(format!("did not finish within --timeout ({timeout:?}); it was stopped")));
        }
    };
    if stdout.len() as u64 > CREDENTIAL_OUTPUT_LIMIT {
        return Err(fail(format!(
            "printed more than {} KiB, which is not a credential",
            CREDENTIAL_OUTPUT_LIMIT >> 10
        )));
    }
    if !status.success() {
        let status = status.code().map_or_else(|| "killed by a signal".to_string(), |c| format!("exit status {c}"));
        return Err(fail(format!("failed ({status})")));
    }
    Ok(stdout)
}

/// Kills a credential command and waits (up to [`REAP_WAIT`]) until it has ended.
async fn stop(child: &mut tokio::process::Child) {
    // An error means it has already ended; a process the kernel will not end within
    // REAP_WAIT is left to tokio's reaper (kill_on_drop already sent it SIGKILL).
    let _ = tokio::time::timeout(REAP_WAIT, child.kill()).await;
}

/// Puts a plugin's credential into the kubeconfig user, as kubeconfig fields.
fn apply_credential(auth: &mut AuthInfo, cred: Credential) -> Result<(), LiveError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // `AuthInfo` holds secrets in types of its own; build them the way a kubeconfig would.
    let mut fields = serde_json::Map::new();
    if let Some(t) = cred.token {
        fields.insert("token".into(), t.into());
    }
    if let (Some(c), Some(k)) = (cred.client_certificate_data, cred.client_key_data) {
        fields.insert("client-certificate-data".into(), b64.encode(c).into());
        fields.insert("client-key-data".into(), b64.encode(k).into());
    }
    let from: AuthInfo = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|_| LiveError::Config("the exec plugin's or auth-provider's credential cannot be used".to_string()))?;
    if from.token.is_some() {
        auth.token = from.token;
        auth.token_file = None;
    }
    if from.client_key_data.is_some() {
        auth.client_certificate_data = from.client_certificate_data;
        auth.client_key_data = from.client_key_data;
        auth.client_certificate = None;
        auth.client_key = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_urls("cannot reach https://admin:hunter2@10.0.0.1:6443/ via http://u:p@proxy:3128"),
            "cannot reach https://***@10.0.0.1:6443/ via http://***@proxy:3128"
        );
        assert_eq!(redact_urls("https://10.0.0.1:6443/x?a=b"), "https://10.0.0.1:6443/x?a=b");
        assert_eq!(redact_urls("no url"), "no url");
        assert_eq!(redact_urls("\"http://a:b@c\""), "\"http://***@c\"");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn proxies_are_chosen_as_kubectl_chooses_them() {
        let server: http::Uri = "https://api.prod.example.com:6443".parse().unwrap();
        let choose = |explicit: Option<&str>, vars: &[(&str, &str)], server: &http::Uri| {
            choose_proxy(explicit, server, &env(vars)).unwrap().map(|u| u.to_string())
        };
        assert_eq!(choose(None, &[], &server), None);
        let proxy = [("HTTPS_PROXY", "http://proxy:3128")];
        assert_eq!(choose(None, &proxy, &server).as_deref(), Some("http://proxy:3128/"));
        assert_eq!(choose(None, &[("https_proxy", "proxy:3128")], &server).as_deref(), Some("http://proxy:3128/"));
        // HTTP_PROXY is for http:// servers only.
        assert_eq!(choose(None, &[("HTTP_PROXY", "http://proxy:3128")], &server), None);
        // The kubeconfig's proxy-url wins, and NO_PROXY does not apply to it.
        let all = [("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", "*")];
        assert_eq!(choose(Some("socks5://s:1080"), &all, &server).as_deref(), Some("socks5://s:1080/"));
        for no in
            ["*", "example.com", ".example.com", "*.example.com", "prod.example.com:6443", "a.b, api.prod.example.com"]
        {
            let vars = [("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", no)];
            assert_eq!(choose(None, &vars, &server), None, "NO_PROXY={no}");
        }
        for no in ["example.org", "prod.example.com:443", "xample.com", "10.0.0.0/8"] {
            let vars = [("HTTPS_PROXY", "http://proxy:3128"), ("no_proxy", no)];
            assert!(choose(None, &vars, &server).is_some(), "NO_PROXY={no}");
        }
        let by_ip: http::Uri = "https://10.1.2.3:6443".parse().unwrap();
        assert_eq!(choose(None, &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "10.0.0.0/8")], &by_ip), None);
        // Loopback servers never go through the environment's proxy (Go's rule).
        for s in ["https://127.0.0.1:6443", "https://localhost:6443", "https://[::1]:6443"] {
            assert_eq!(choose(None, &proxy, &s.parse().unwrap()), None, "{s}");
        }
        assert!(choose_proxy(Some("ftp://x"), &server, &env(&[])).is_err());
    }
}
