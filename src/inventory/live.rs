//! The live-cluster source: connect like kubectl, discover exactly the kinds the enabled
//! checks and matrices need, and list them concurrently, paginated, read-only; and, when
//! `deprecated-api-requests` is enabled, read the API server's `GET /metrics` (reduced to
//! one gauge as it arrives, `super::metrics`) under the same timeouts, retries and limits.
//!
//! The only async module. Every request is a GET. Faults are handled here and end up as
//! kind states in the [`Inventory`], never as panics:
//! - per-request timeout; retries with exponential backoff on 429 (honouring `Retry-After`),
//!   500/502/503/504, timeouts and connection errors;
//! - a 410 Gone on a `continue` token restarts that list from the beginning;
//! - 403 (and any kind that keeps failing) makes the kind *failed* with the reason, so its
//!   checks are *could not evaluate*;
//! - responses are size-limited and must be JSON.
//!
//! Connection problems (no kubeconfig, unreachable server, refused credentials) are a
//! [`LiveError`] and exit 3; the whole collection is bounded by `--timeout`.
//!
//! With `-n` ([`LiveOptions::namespaces`]) namespaced kinds are listed per namespace
//! (`/api/v1/namespaces/NS/pods`), each list a task under the same `--concurrency` bound;
//! cluster-scoped kinds are still listed cluster-wide. Each namespace is checked to exist
//! first (`GET /api/v1/namespaces/NS`, one request each).
//!
//! One job: the live source, from kubeconfig to kind states (over 600 lines because
//! connection, discovery, paging and fault handling are one pipeline).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::Value;

use super::{Inventory, KindState, Object, Origin};
use crate::resource::GroupKind;

/// Largest single response accepted (a page of a list), in bytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// How many times a 410 Gone restarts one list before the kind is given up.
const MAX_LIST_RESTARTS: u32 = 3;

/// Connection and collection settings.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Explicit kubeconfig file (else `KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Context name (else the current context).
    pub context: Option<String>,
    /// Bound on the whole collection.
    pub timeout: Duration,
    /// Bound on one request, body included.
    pub request_timeout: Duration,
    /// Lists in flight at once.
    pub concurrency: usize,
    /// Items per page (`limit`).
    pub page_size: u32,
    /// Retries per request on retryable failures.
    pub max_retries: u32,
    /// Print progress on stderr.
    pub progress: bool,
    /// Most objects held; beyond it the collection fails ([`LiveError::TooManyObjects`]).
    pub max_objects: usize,
    /// Read namespaced kinds only in these namespaces (`-n`), one list per kind and
    /// namespace; cluster-scoped kinds are listed cluster-wide all the same. `None`: every
    /// namespace, one cluster-wide list per kind.
    pub namespaces: Option<BTreeSet<String>>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(20),
            concurrency: 8,
            page_size: 500,
            max_retries: 4,
            progress: false,
            max_objects: crate::limits::DEFAULT_MAX_OBJECTS,
            namespaces: None,
        }
    }
}

/// The cluster could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot load cluster configuration: {0}")]
    Config(String),
    /// `--context` names a context the kubeconfig does not have (a usage error, exit 2).
    #[error("context {context} not found in {kubeconfig}; contexts: {}", if .contexts.is_empty() { "none".to_string() } else { .contexts.join(", ") })]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// Which kubeconfig (the path, or `$KUBECONFIG`'s value); never its content.
        kubeconfig: String,
        /// The contexts it has, sorted.
        contexts: Vec<String>,
    },
    /// The API server did not answer.
    #[error("cannot reach the cluster at {url}: {reason}")]
    Unreachable {
        /// Server URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The API server refused the credentials.
    #[error("the cluster at {url} refused the credentials: {reason}")]
    Auth {
        /// Server URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The cluster holds more objects of the needed kinds than the object limit.
    #[error("the cluster has {}", .0.too_many_objects())]
    TooManyObjects(crate::limits::Limits),
    /// A namespace given with `-n` does not exist (a usage error, exit 2): a typo must not
    /// read as an empty, healthy namespace.
    #[error("namespace {namespace} not found in the cluster at {url}")]
    NamespaceNotFound {
        /// The namespace asked for.
        namespace: String,
        /// Server URL.
        url: String,
    },
    /// A read the run cannot do without failed (the storage of `check --pending-release`).
    #[error("cannot list {what}: {reason}")]
    Read {
        /// What was listed.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The whole collection took longer than `--timeout`.
    #[error("timed out after {:?} collecting from the cluster (raise --timeout?)", .0)]
    Timeout(Duration),
}

impl LiveError {
    /// True for a mistake in the command line (exit 2), not a cluster that could not be
    /// used: a context the kubeconfig does not have, a namespace the cluster does not.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(self, LiveError::UnknownContext { .. } | LiveError::NamespaceNotFound { .. })
    }
}

/// One kind to collect, with the narrowest scope every consumer agrees on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Group and kind.
    pub gk: GroupKind,
    /// Version the data files name (used when the server serves it).
    pub version_hint: Option<String>,
    /// List only this namespace.
    pub namespace: Option<String>,
    /// Server-side label selector.
    pub label_selector: Option<String>,
    /// Server-side field selector (`metadata.name=…`).
    pub field_selector: Option<String>,
    /// Fields to keep of each object.
    pub keep: super::projection::Keep,
}

/// Counters, for progress and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (retries included).
    pub requests: AtomicU64,
    /// Response body bytes received.
    pub bytes: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// Objects kept.
    pub objects: AtomicUsize,
    /// Lists finished (a kind, or a kind in one namespace of a partial view).
    pub kinds_done: AtomicUsize,
}

enum FetchError {
    /// The server answered with this status (after retries, if retryable).
    Status(u16, String),
    /// No usable answer: transport error, timeout, bad body.
    Transport(String),
    /// An answer that asking again cannot fix (a response over the size limit); not retried.
    Refused(String),
}

impl FetchError {
    fn describe(&self) -> String {
        match self {
            FetchError::Status(code, msg) => format!("HTTP {code}: {msg}"),
            FetchError::Transport(m) | FetchError::Refused(m) => m.clone(),
        }
    }
}

struct Http {
    client: kube::Client,
    stats: Arc<Stats>,
    opts: LiveOptions,
    deadline: Instant,
}

/// What a GET expects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A JSON document (discovery, lists), held whole.
    Json,
    /// The API server's `/metrics` in the Prometheus text format, read as it arrives and
    /// reduced to the `apiserver_requested_deprecated_apis` series (`super::metrics`).
    Metrics,
}

/// A successful answer, by [`Want`].
enum Got {
    Json(Vec<u8>),
    Metrics(Vec<super::metrics::Series>),
}

impl Http {
    /// GET with retries; returns the JSON body bytes.
    async fn get(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        match self.get_as(path, Want::Json).await? {
            Got::Json(body) => Ok(body),
            Got::Metrics(_) => Err(FetchError::Refused(format!("internal error: {path} was read as metrics"))),
        }
    }

    /// GET `/metrics` with retries; returns the deprecated-API series it holds.
    async fn get_metrics(&self) -> Result<Vec<super::metrics::Series>, FetchError> {
        match self.get_as(super::metrics::PATH, Want::Metrics).await? {
            Got::Metrics(series) => Ok(series),
            Got::Json(_) => Err(FetchError::Refused("internal error: /metrics was read as JSON".to_string())),
        }
    }

    /// GET with retries: each attempt bounded by `--request-timeout`, backoff within the
    /// run's deadline, every attempt counted in the stats.
    async fn get_as(&self, path: &str, want: Want) -> Result<Got, FetchError> {
        let mut attempt = 0;
        loop {
            let result = tokio::time::timeout(self.opts.request_timeout, self.once(path, want)).await;
            let (err, retry_after) = match result {
                Ok(Ok(body)) => return Ok(body),
                Ok(Err((e, retry_after))) => (e, retry_after),
                Err(_) => (
                    FetchError::Transport(format!("no response within {}s", self.opts.request_timeout.as_secs())),
                    None,
                ),
            };
            let retryable = match &err {
                FetchError::Status(code, _) => matches!(code, 429 | 500 | 502 | 503 | 504),
                FetchError::Transport(_) => true,
                FetchError::Refused(_) => false,
            };
            if !retryable || attempt >= self.opts.max_retries {
                return Err(err);
            }
            let backoff = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(5));
            let delay = retry_after.unwrap_or(backoff);
            if Instant::now() + delay >= self.deadline {
                return Err(err);
            }
            attempt += 1;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    async fn once(&self, path: &str, want: Want) -> Result<Got, (FetchError, Option<Duration>)> {
        let accept = match want {
            Want::Json => "application/json",
            Want::Metrics => super::metrics::ACCEPT,
        };
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(kube::client::Body::empty())
            .map_err(|e| (FetchError::Refused(format!("bad request path {path}: {e}")), None))?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self.client.send(req).await.map_err(|e| (FetchError::Transport(transport_reason(&e)), None))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(60)));
        let content_type =
            resp.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let too_large = || {
            (
                FetchError::Refused(format!(
                    "response exceeds the {} MiB limit; not retried",
                    MAX_RESPONSE_BYTES >> 20
                )),
                None,
            )
        };
        // A declared length over the limit is refused before any of the body is read.
        let declared = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(too_large());
        }
        // Metrics are read line by line as they arrive and only a few lines kept; anything
        // else (JSON, an error body, a page of the wrong type) is held whole, within the limit.
        let is_text = content_type.starts_with("text/plain");
        let mut scanner = (want == Want::Metrics && status == 200 && is_text).then(super::metrics::Scanner::new);
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        let mut received = 0usize;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| (FetchError::Transport(format!("connection failed mid-response: {e}")), None))?;
            if let Ok(data) = frame.into_data() {
                self.stats.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                received += data.len();
                if received > MAX_RESPONSE_BYTES {
                    return Err(too_large());
                }
                match scanner.as_mut() {
                    // A body not in the format is refused at its first bad line: asking
                    // again gets the same body.
                    Some(sc) => sc.push(&data).map_err(|e| (not_metrics(&e), None))?,
                    None => buf.extend_from_slice(&data),
                }
            }
        }
        if status != 200 {
            return Err((FetchError::Status(status, status_message(&buf)), retry_after));
        }
        let expected = match want {
            Want::Json if content_type.starts_with("application/json") => return Ok(Got::Json(buf)),
            Want::Json => "application/json",
            Want::Metrics => match scanner {
                Some(sc) => return sc.finish().map(Got::Metrics).map_err(|e| (not_metrics(&e), None)),
                None => "text/plain, the Prometheus text format",
            },
        };
        let shown = if content_type.is_empty() { "none" } else { content_type.as_str() };
        Err((FetchError::Transport(format!("unexpected content type {shown} (expected {expected})")), None))
    }
}

/// A `/metrics` body that is not in the Prometheus text format.
fn not_metrics(why: &str) -> FetchError {
    FetchError::Refused(format!("the body is not in the Prometheus text format: {why}; not retried"))
}

/// Reads the API server's deprecated-API gauge into the one object that holds it, or the
/// reason it could not be read. Forbidden names the permission it needs.
async fn collect_metrics(http: &Http) -> KindState {
    let path = super::metrics::PATH;
    match http.get_metrics().await {
        Ok(series) => match Object::from_value(super::metrics::object(&series)) {
            Ok(obj) => {
                http.stats.objects.fetch_add(1, Ordering::Relaxed);
                KindState::Collected(vec![obj])
            }
            Err(e) => KindState::Failed(format!("get {path}: {e}")),
        },
        Err(FetchError::Status(403, m)) => KindState::Failed(format!(
            "forbidden: get {path}: the ClusterRole needs nonResourceURLs [\"{path}\"] with verb get (`upgrade-preflight rbac` grants it): {m}"
        )),
        Err(FetchError::Status(401, m)) => KindState::Failed(format!("unauthorized: get {path}: {m}")),
        Err(FetchError::Status(404, m)) => {
            KindState::Failed(format!("get {path}: HTTP 404: the API server does not serve its metrics there: {m}"))
        }
        Err(e) => KindState::Failed(format!("get {path}: {}", e.describe())),
    }
}

fn transport_reason(e: &kube::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    // A proxy or server URL may carry `user:password@`.
    super::connect::redact_urls(&msg)
}

/// The `message` of a Kubernetes `Status` body, else the start of the body.
fn status_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Status {
        message: Option<String>,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(Status { message: Some(m) }) => m,
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string(),
    }
}

/// The kubeconfig kubectl would read, and how to name it in messages: `--kubeconfig`, else
/// `$KUBECONFIG` (possibly several files), else `~/.kube/config`. `None` when there is none to
/// read (in a Pod, the service account is used instead).
fn read_kubeconfig(path: Option<&std::path::Path>) -> Option<(kube::config::Kubeconfig, String)> {
    let name = match path {
        Some(p) => p.display().to_string(),
        None => {
            std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "~/.kube/config".to_string())
        }
    };
    // Parsed without quoting it on error (connecting reports the error).
    super::connect::load_kubeconfig(path).ok().flatten().map(|kc| (kc, name))
}

/// Checks that every context in `wanted` is in the kubeconfig kubectl would read. A kubeconfig
/// that cannot be read is not judged here: connecting reports that.
pub fn check_contexts(kubeconfig: Option<&std::path::Path>, wanted: &[String]) -> Result<(), LiveError> {
    let Some((kc, name)) = read_kubeconfig(kubeconfig) else { return Ok(()) };
    let mut contexts: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
    contexts.sort();
    contexts.dedup();
    match wanted.iter().find(|w| !contexts.contains(w)) {
        Some(missing) => Err(LiveError::UnknownContext { context: missing.clone(), kubeconfig: name, contexts }),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
struct VersionInfo {
    #[serde(rename = "gitVersion")]
    git_version: String,
}

#[derive(Deserialize)]
struct GroupList {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    name: String,
    #[serde(default)]
    versions: Vec<GroupVersion>,
    preferred_version: Option<GroupVersion>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GroupVersion {
    group_version: String,
}

#[derive(Deserialize)]
struct ResourceList {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

#[derive(Deserialize, Clone)]
struct ApiResource {
    name: String,
    kind: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    verbs: Vec<String>,
}

/// Where a kind is served.
#[derive(Debug, Clone)]
struct Resolved {
    group_version: String,
    plural: String,
    namespaced: bool,
}

/// Collects every needed kind. Progress goes to stderr when `opts.progress` is set.
pub async fn collect(opts: &LiveOptions, needs: &[Need]) -> Result<(Inventory, Arc<Stats>), LiveError> {
    Session::open(opts).await?.collect(needs).await
}

/// One connection to one cluster under one `--timeout` deadline: what [`collect`] runs on,
/// and what a caller uses first when what to collect depends on something it must read
/// before (the pending revision of a Helm release, `check --pending-release`). The same
/// client, limits, retries and counters serve both reads; every request is a GET.
pub struct Session {
    http: Arc<Http>,
    url: String,
    context: String,
}

impl Session {
    /// Connects (running the exec credential plugin or gcp auth-provider command, if any, under
    /// the deadline, which starts now). Nothing is requested from the API server yet.
    pub async fn open(opts: &LiveOptions) -> Result<Self, LiveError> {
        let deadline = Instant::now() + opts.timeout;
        let super::connect::Connected { client, url, context } = super::connect::connect(opts, deadline).await?;
        let stats = Arc::new(Stats::default());
        Ok(Self { http: Arc::new(Http { client, stats, opts: opts.clone(), deadline }), url, context })
    }

    /// Collects every needed kind, within what is left of the deadline.
    pub async fn collect(self, needs: &[Need]) -> Result<(Inventory, Arc<Stats>), LiveError> {
        let Self { http, url, context } = self;
        let (stats, deadline, timeout) = (Arc::clone(&http.stats), http.deadline, http.opts.timeout);
        match tokio::time::timeout_at(deadline.into(), run(http, needs, url, context)).await {
            Ok(Ok(inv)) => Ok((inv, stats)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LiveError::Timeout(timeout)),
        }
    }

    /// Every object of a core (`/api/v1`) resource in one namespace that matches
    /// `label_selector`, **whole**: nothing projected, no value blanked. Only for a caller that
    /// decodes what it needs at once and keeps none of it (the storage of one Helm release);
    /// never put into an inventory. Paged like any list, within the object limit.
    pub async fn list_whole(
        &self,
        kind: &str,
        plural: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, LiveError> {
        let list = self.list_whole_pages(kind, plural, namespace, label_selector);
        match tokio::time::timeout_at(self.http.deadline.into(), list).await {
            Ok(r) => r,
            Err(_) => Err(LiveError::Timeout(self.http.opts.timeout)),
        }
    }

    async fn list_whole_pages(
        &self,
        kind: &str,
        plural: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, LiveError> {
        let http = &self.http;
        let what = format!("{plural} in namespace {namespace} ({label_selector})");
        let read = |reason: String| LiveError::Read { what: what.clone(), reason };
        let mut restarts = 0;
        'restart: loop {
            let mut items = Vec::new();
            let mut cont: Option<String> = None;
            loop {
                let mut q =
                    vec![format!("limit={}", http.opts.page_size), format!("labelSelector={}", enc(label_selector))];
                if let Some(c) = &cont {
                    q.push(format!("continue={}", enc(c)));
                }
                let path = format!("/api/v1/namespaces/{}/{plural}?{}", enc(namespace), q.join("&"));
                let body = match http.get(&path).await {
                    Ok(b) => b,
                    Err(FetchError::Status(410, _)) if cont.is_some() && restarts < MAX_LIST_RESTARTS => {
                        restarts += 1;
                        continue 'restart;
                    }
                    Err(FetchError::Status(401, m)) => {
                        return Err(LiveError::Auth { url: self.url.clone(), reason: m });
                    }
                    Err(FetchError::Status(403, m)) => return Err(read(format!("forbidden: {m}"))),
                    Err(FetchError::Transport(m)) => {
                        return Err(LiveError::Unreachable { url: self.url.clone(), reason: m });
                    }
                    Err(e) => return Err(read(e.describe())),
                };
                let page: ListPage<'_> =
                    serde_json::from_slice(&body).map_err(|e| read(format!("invalid JSON: {e}")))?;
                for raw in page.items {
                    let mut item: Value =
                        serde_json::from_str(raw.get()).map_err(|e| read(format!("invalid JSON: {e}")))?;
                    if let Some(o) = item.as_object_mut() {
                        // List items omit apiVersion and kind.
                        o.entry("apiVersion").or_insert_with(|| Value::String("v1".into()));
                        o.entry("kind").or_insert_with(|| Value::String(kind.into()));
                    }
                    items.push(item);
                }
                if items.len() > http.opts.max_objects {
                    return Err(LiveError::TooManyObjects(crate::limits::Limits {
                        max_objects: http.opts.max_objects,
                        ..crate::limits::Limits::default()
                    }));
                }
                match page.metadata.cont.filter(|c| !c.is_empty()) {
                    Some(c) => cont = Some(c),
                    None => return Ok(items),
                }
            }
        }
    }
}

async fn run(http: Arc<Http>, needs: &[Need], url: String, context: String) -> Result<Inventory, LiveError> {
    let version: VersionInfo = match http.get("/version").await {
        Ok(body) => serde_json::from_slice(&body).map_err(|e| LiveError::Unreachable {
            url: url.clone(),
            reason: format!("/version is not a version: {e}"),
        })?,
        Err(FetchError::Status(401 | 403, m)) => return Err(LiveError::Auth { url, reason: m }),
        Err(e) => return Err(LiveError::Unreachable { url, reason: e.describe() }),
    };
    let mut inv = Inventory::new(Origin::Live { context, server: url.clone() }, true);
    inv.captured_at = crate::inventory::now_rfc3339();
    inv.server_version = Some(version.git_version);
    if let Some(view) = &http.opts.namespaces {
        check_namespaces(&http, view, &url).await?;
        inv.set_view(view.clone());
    }

    // The deprecated-API gauge is not a kind the API serves: it is read from `/metrics`.
    let metrics_gk = super::metrics::group_kind();
    let wants_metrics = needs.iter().any(|n| n.gk == metrics_gk);
    let listed: Vec<Need> = needs.iter().filter(|n| n.gk != metrics_gk).cloned().collect();
    let resolved = discover(&http, &listed, &mut inv).await;
    let lists = plan_lists(resolved, http.opts.namespaces.as_ref());
    let sem = Arc::new(tokio::sync::Semaphore::new(http.opts.concurrency.max(1)));
    let total = lists.len() + usize::from(wants_metrics);
    let mut tasks = tokio::task::JoinSet::new();
    // Per kind: the states of its lists (one per namespace in a partial view), merged below.
    let mut parts: BTreeMap<GroupKind, Vec<(KindState, Vec<Object>)>> = BTreeMap::new();
    if wants_metrics {
        let http = Arc::clone(&http);
        let sem = Arc::clone(&sem);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.ok();
            let state = collect_metrics(&http).await;
            http.stats.kinds_done.fetch_add(1, Ordering::Relaxed);
            if http.opts.progress {
                progress(&http.stats, total);
            }
            (metrics_gk, state, Vec::new())
        });
    }
    for (need, res) in lists {
        if need.namespace.as_deref() == Some(NO_NAMESPACE) {
            // Namespaced, and needed only in a namespace the view leaves out: nothing to list.
            parts.entry(need.gk).or_default().push((KindState::Collected(Vec::new()), Vec::new()));
            continue;
        }
        let http = Arc::clone(&http);
        let sem = Arc::clone(&sem);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail; if it ever did, the
            // list simply runs without the bound.
            let _permit = sem.acquire_owned().await.ok();
            let (state, releases) = list_kind(&http, &need, &res).await;
            http.stats.kinds_done.fetch_add(1, Ordering::Relaxed);
            if http.opts.progress {
                progress(&http.stats, total);
            }
            (need.gk, state, releases)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((gk, state, releases)) => parts.entry(gk).or_default().push((state, releases)),
            Err(e) => {
                // A panicking list task is a bug; keep going and say so rather than abort.
                let _ = writeln!(std::io::stderr(), "upgrade-preflight: internal error in a list task: {e}");
            }
        }
    }
    for (gk, lists) in parts {
        let (state, releases) = merge_lists(lists);
        inv.set_state(gk, state);
        for r in releases {
            inv.push(r);
        }
    }
    if http.opts.progress {
        let _ = writeln!(std::io::stderr());
    }
    if http.stats.objects.load(Ordering::Relaxed) > http.opts.max_objects {
        return Err(LiveError::TooManyObjects(crate::limits::Limits {
            max_objects: http.opts.max_objects,
            ..crate::limits::Limits::default()
        }));
    }
    inv.finish();
    Ok(inv)
}

/// A namespace no list may name: marks a namespaced need whose only namespace is outside
/// the view (nothing is listed for it).
const NO_NAMESPACE: &str = "";

/// The lists to make: one per kind, except that in a partial view a namespaced kind is
/// listed once per namespace of the view (a need scoped to one namespace, only there, and
/// not at all when the view leaves it out: then its namespace is [`NO_NAMESPACE`]).
fn plan_lists(resolved: Vec<(Need, Resolved)>, view: Option<&BTreeSet<String>>) -> Vec<(Need, Resolved)> {
    let Some(view) = view else { return resolved };
    let mut out = Vec::new();
    for (need, res) in resolved {
        if !res.namespaced {
            out.push((need, res));
            continue;
        }
        let namespaces: Vec<&String> = match &need.namespace {
            Some(ns) => view.get(ns).into_iter().collect(),
            None => view.iter().collect(),
        };
        if namespaces.is_empty() {
            out.push((Need { namespace: Some(NO_NAMESPACE.to_string()), ..need }, res));
            continue;
        }
        for ns in namespaces {
            out.push((Need { namespace: Some(ns.clone()), ..need.clone() }, res.clone()));
        }
    }
    out
}

/// One kind's state from its lists: collected when every list was, else the first failure
/// (a kind read in some namespaces only is not evidence of anything); Helm releases only
/// from a kind wholly collected.
fn merge_lists(mut lists: Vec<(KindState, Vec<Object>)>) -> (KindState, Vec<Object>) {
    if lists.len() == 1 {
        return lists.pop().unwrap_or((KindState::Collected(Vec::new()), Vec::new()));
    }
    let mut failures: Vec<String> = lists
        .iter()
        .filter_map(|(s, _)| match s {
            KindState::Failed(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        failures.sort();
        let more = if failures.len() > 1 {
            format!(" (and {} more list(s) failed)", failures.len() - 1)
        } else {
            String::new()
        };
        return (KindState::Failed(format!("{}{more}", failures[0])), Vec::new());
    }
    let mut objects = Vec::new();
    let mut releases = Vec::new();
    for (state, rel) in lists {
        if let KindState::Collected(v) = state {
            objects.extend(v);
        }
        releases.extend(rel);
    }
    (KindState::Collected(objects), releases)
}

/// Checks that every namespace of the view exists: `GET /api/v1/namespaces/NS`. A 404 is
/// [`LiveError::NamespaceNotFound`]; a 403 (a user who may read only inside the namespace)
/// or any other failure leaves the question open and the lists go ahead.
async fn check_namespaces(http: &Http, view: &BTreeSet<String>, url: &str) -> Result<(), LiveError> {
    for ns in view {
        if let Err(FetchError::Status(404, _)) = http.get(&format!("/api/v1/namespaces/{}", enc(ns))).await {
            return Err(LiveError::NamespaceNotFound { namespace: ns.clone(), url: url.to_string() });
        }
    }
    Ok(())
}

fn progress(stats: &Stats, total: usize) {
    let _ = write!(
        std::io::stderr(),
        "\rcollecting: {}/{total} lists, {} objects",
        stats.kinds_done.load(Ordering::Relaxed),
        stats.objects.load(Ordering::Relaxed)
    );
}

/// True when stderr is a terminal (progress is shown only then).
#[must_use]
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Resolves needs to served resources; records absent and failed kinds in `inv`.
async fn discover(http: &Http, needs: &[Need], inv: &mut Inventory) -> Vec<(Need, Resolved)> {
    let groups: BTreeSet<&str> = needs.iter().map(|n| n.gk.group.as_str()).collect();
    let mut out = Vec::new();
    let mut group_list: Option<Result<GroupList, String>> = None;
    for group in groups {
        let wanted: Vec<&Need> = needs.iter().filter(|n| n.gk.group == group).collect();
        let lists: Result<Vec<(String, ResourceList)>, String> = if group.is_empty() {
            fetch_resources(http, "/api/v1").await.map(|l| vec![("v1".to_string(), l)])
        } else {
            if group_list.is_none() {
                group_list = Some(match http.get("/apis").await {
                    Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("/apis: {e}")),
                    Err(e) => Err(format!("discovery /apis: {}", e.describe())),
                });
            }
            match group_list.as_ref() {
                Some(Ok(gl)) => match gl.groups.iter().find(|g| g.name == group) {
                    None => Ok(Vec::new()),
                    Some(g) => {
                        // Versions to look in: each need's hint first, then preferred, then the rest.
                        let mut order: Vec<String> = Vec::new();
                        for n in &wanted {
                            if let Some(v) = &n.version_hint {
                                let gv = format!("{group}/{v}");
                                if g.versions.iter().any(|x| x.group_version == gv) && !order.contains(&gv) {
                                    order.push(gv);
                                }
                            }
                        }
                        for gv in g.preferred_version.iter().chain(&g.versions) {
                            if !order.contains(&gv.group_version) {
                                order.push(gv.group_version.clone());
                            }
                        }
                        let mut lists = Vec::new();
                        let mut err = None;
                        for gv in order {
                            match fetch_resources(http, &format!("/apis/{gv}")).await {
                                Ok(l) => lists.push((gv, l)),
                                Err(e) => err = Some(e),
                            }
                        }
                        match (lists.is_empty(), err) {
                            (true, Some(e)) => Err(e),
                            _ => Ok(lists),
                        }
                    }
                },
                Some(Err(e)) => Err(e.clone()),
                None => Err("discovery failed".to_string()),
            }
        };
        for need in wanted {
            match &lists {
                Err(e) => inv.set_state(need.gk.clone(), KindState::Failed(e.clone())),
                Ok(lists) => {
                    let serving: Vec<String> = lists
                        .iter()
                        .filter(|(_, l)| l.resources.iter().any(|r| r.kind == need.gk.kind && !r.name.contains('/')))
                        .map(|(gv, _)| gv.clone())
                        .collect();
                    inv.served.insert(need.gk.clone(), serving);
                    let found = lists.iter().find_map(|(gv, l)| {
                        l.resources.iter().find(|r| r.kind == need.gk.kind && !r.name.contains('/')).map(|r| (gv, r))
                    });
                    match found {
                        None => inv.set_state(need.gk.clone(), KindState::Absent),
                        Some((_, r)) if !r.verbs.is_empty() && !r.verbs.iter().any(|v| v == "list") => inv.set_state(
                            need.gk.clone(),
                            KindState::Failed(format!("{} cannot be listed (verbs: {})", r.name, r.verbs.join(", "))),
                        ),
                        Some((gv, r)) => out.push((
                            need.clone(),
                            Resolved { group_version: gv.clone(), plural: r.name.clone(), namespaced: r.namespaced },
                        )),
                    }
                }
            }
        }
    }
    out
}

async fn fetch_resources(http: &Http, path: &str) -> Result<ResourceList, String> {
    match http.get(path).await {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("discovery {path}: {e}")),
        Err(e) => Err(format!("discovery {path}: {}", e.describe())),
    }
}

/// A page of a list. Items stay raw text until each is parsed, normalised and stored in
/// turn, so a page is never held as one big `Value` tree.
#[derive(Deserialize)]
struct ListPage<'a> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default, borrow)]
    items: Vec<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    cont: Option<String>,
}

fn list_path(res: &Resolved, need: &Need) -> String {
    let base = if res.group_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{}", res.group_version) };
    match (&need.namespace, res.namespaced) {
        (Some(ns), true) => format!("{base}/namespaces/{}/{}", enc(ns), res.plural),
        _ => format!("{base}/{}", res.plural),
    }
}

/// Percent-encodes a query value or path segment.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lists one kind. Helm release storage objects among the items are decoded into
/// `HelmRelease` objects (returned beside the state) before projection drops their data.
async fn list_kind(http: &Http, need: &Need, res: &Resolved) -> (KindState, Vec<Object>) {
    let mut releases = Vec::new();
    let state = list_kind_into(http, need, res, &mut releases).await;
    if !matches!(state, KindState::Collected(_)) {
        releases.clear();
    }
    (state, releases)
}

async fn list_kind_into(http: &Http, need: &Need, res: &Resolved, releases: &mut Vec<Object>) -> KindState {
    let path = list_path(res, need);
    let scope = match (&need.namespace, res.namespaced) {
        (Some(ns), true) => format!("in namespace {ns}"),
        _ => "at cluster scope".to_string(),
    };
    let what = if need.gk.group.is_empty() { res.plural.clone() } else { format!("{}.{}", res.plural, need.gk.group) };
    let mut restarts = 0;
    'restart: loop {
        let mut objects = Vec::new();
        releases.clear();
        let mut cont: Option<String> = None;
        loop {
            let mut q = vec![format!("limit={}", http.opts.page_size)];
            if let Some(c) = &cont {
                q.push(format!("continue={}", enc(c)));
            }
            if let Some(s) = &need.label_selector {
                q.push(format!("labelSelector={}", enc(s)));
            }
            if let Some(s) = &need.field_selector {
                q.push(format!("fieldSelector={}", enc(s)));
            }
            let body = match http.get(&format!("{path}?{}", q.join("&"))).await {
                Ok(b) => b,
                Err(FetchError::Status(410, _)) if cont.is_some() && restarts < MAX_LIST_RESTARTS => {
                    restarts += 1;
                    // The restarted list counts its objects again.
                    http.stats.objects.fetch_sub(objects.len(), Ordering::Relaxed);
                    continue 'restart;
                }
                Err(FetchError::Status(403, m)) => {
                    return KindState::Failed(format!("forbidden: list {what} {scope}: {m}"));
                }
                Err(e) => return KindState::Failed(format!("list {what} {scope}: {}", e.describe())),
            };
            let before = objects.len();
            let page: ListPage<'_> = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return KindState::Failed(format!("list {what} {scope}: invalid JSON: {e}")),
            };
            for raw in page.items {
                let mut item: Value = match serde_json::from_str(raw.get()) {
                    Ok(v) => v,
                    Err(e) => return KindState::Failed(format!("list {what} {scope}: invalid JSON: {e}")),
                };
                if let Some(o) = item.as_object_mut() {
                    // List items omit apiVersion and kind.
                    o.entry("apiVersion").or_insert_with(|| Value::String(res.group_version.clone()));
                    o.entry("kind").or_insert_with(|| Value::String(need.gk.kind.clone()));
                }
                if let Some(rel) = crate::inventory::helm::release_object(&item) {
                    match Object::from_value(rel) {
                        Ok(r) => releases.push(r),
                        Err(e) => return KindState::Failed(format!("list {what} {scope}: Helm release: {e}")),
                    }
                }
                // Pods a listed controller stands for leave out what only Pods judged
                // themselves need.
                let owned = crate::inventory::projection::stood_for(&item);
                need.keep.apply(&mut item, owned);
                match Object::from_value(item) {
                    Ok(obj) => objects.push(obj),
                    Err(e) => return KindState::Failed(format!("list {what} {scope}: {e}")),
                }
            }
            let total =
                http.stats.objects.fetch_add(objects.len() - before, Ordering::Relaxed) + objects.len() - before;
            if total > http.opts.max_objects {
                // `run` turns this into `LiveError::TooManyObjects`; stop holding more now.
                return KindState::Failed(format!("over the object limit of {}", http.opts.max_objects));
            }
            let next = page.metadata.cont.filter(|c| !c.is_empty());
            drop(body);
            match next {
                Some(c) => cont = Some(c),
                None => return KindState::Collected(objects),
            }
        }
    }
}

/// Plans the narrowest collection that serves every consumer: per kind, a namespace or
/// selector is used only when every consumer of that kind asks for the same one.
#[must_use]
pub fn merge_needs(consumers: Vec<Need>) -> Vec<Need> {
    let mut by_kind: BTreeMap<GroupKind, Vec<Need>> = BTreeMap::new();
    for n in consumers {
        by_kind.entry(n.gk.clone()).or_default().push(n);
    }
    by_kind
        .into_iter()
        .map(|(gk, list)| {
            let same = |f: fn(&Need) -> &Option<String>| -> Option<String> {
                let first = f(&list[0]).clone();
                if list.iter().all(|n| f(n) == &first) { first } else { None }
            };
            let mut keep = super::projection::Keep::default();
            for n in &list {
                keep.merge(&n.keep);
            }
            Need {
                keep,
                version_hint: list.iter().find_map(|n| n.version_hint.clone()),
                namespace: same(|n| &n.namespace),
                label_selector: same(|n| &n.label_selector),
                field_selector: same(|n| &n.field_selector),
                gk,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(kind: &str, ns: Option<&str>, sel: Option<&str>) -> Need {
        Need {
            gk: GroupKind::new("", kind),
            version_hint: None,
            namespace: ns.map(Into::into),
            label_selector: sel.map(Into::into),
            field_selector: None,
            keep: super::super::projection::Keep::all(),
        }
    }

    #[test]
    fn merging_keeps_only_shared_scopes() {
        let merged = merge_needs(vec![
            need("Secret", Some("a"), Some("owner=helm")),
            need("Secret", Some("a"), None),
            need("Pod", Some("x"), None),
            need("Pod", Some("x"), None),
        ]);
        assert_eq!(merged.len(), 2);
        let pod = merged.iter().find(|n| n.gk.kind == "Pod").unwrap();
        assert_eq!(pod.namespace.as_deref(), Some("x"));
        let secret = merged.iter().find(|n| n.gk.kind == "Secret").unwrap();
        assert_eq!(secret.namespace.as_deref(), Some("a"));
        assert_eq!(secret.label_selector, None);
    }

    #[test]
    fn encoding() {
        assert_eq!(enc("owner=helm,status in (a)"), "owner%3Dhelm%2Cstatus%20in%20%28a%29");
    }
}
