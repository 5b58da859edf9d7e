//! A loopback HTTPS fake of the Kubernetes API server, for integration tests.
//!
//! [`FakeApi`] serves a fixed set of Kubernetes objects over real TLS on
//! `127.0.0.1:<random port>` so that tests can drive the real `kube` client
//! (and the real binary, as a child process) through a real kubeconfig file.
//! Kubeconfig loading, TLS verification, bearer-token auth, discovery,
//! pagination and error bodies are therefore exercised as against a cluster.
//!
//! # What it fakes
//!
//! * TLS with a CA generated at start-up (rcgen, ECDSA P-256) and a server
//!   certificate for `127.0.0.1` and `localhost` signed by it. The server
//!   uses rustls with the `ring` provider explicitly, so it never depends on
//!   the process-wide default crypto provider.
//! * Bearer-token authentication: a request without the exact
//!   `Authorization: Bearer <token>` header gets `401` with a `Status` body.
//! * `GET /version` (default `gitVersion` `v1.30.7`), `/healthz`,
//!   `/readyz`, `/livez`.
//! * `GET /metrics` in the Prometheus text format (`text/plain; version=0.0.4`): by default
//!   a few API server metrics with no deprecated API requested
//!   ([`api_server_metrics`]`("")`); [`FakeApiBuilder::metrics`] sets the body (fault
//!   injection reaches it with [`Target::path_prefix`]`("/metrics")`).
//! * Discovery: `/api`, `/api/v1`, `/apis`, `/apis/{group}`,
//!   `/apis/{group}/{version}`, and *aggregated discovery* (`apidiscovery.k8s.io/v2`,
//!   as used by `kube::Discovery::run_aggregated`) on `/api` and `/apis` when the
//!   `Accept` header asks for it. Resources come from a built-in table of common
//!   kinds plus every `(apiVersion, kind)` in the loaded objects plus any
//!   [`ResourceKind`] added through the builder. Every resource advertises the
//!   verbs `get`, `list` and `watch`.
//! * `LIST` on cluster and namespace paths, with `labelSelector` (equality,
//!   inequality, existence, `in`, `notin`), `fieldSelector` (`=`, `==`, `!=`;
//!   `metadata.name`, `metadata.namespace`, or any other dotted field path of
//!   the stored JSON, a missing field comparing as `""`), `limit` and
//!   `continue`. Items come in `(namespace, name)` order. The continue token is
//!   opaque (base64url JSON) and bound to the list request (path and
//!   selectors); a token replayed against a different list, or a request that
//!   sends both `continue` and `resourceVersion`, gets `400 BadRequest` like
//!   the real server. `metadata.remainingItemCount` is set on non-final pages
//!   of unfiltered lists, as the real server does.
//! * `GET` of one object, `404 NotFound` `Status` otherwise.
//! * Any method other than `GET` gets `405 MethodNotAllowed` (after auth), and
//!   so does `?watch=true`; both are still recorded.
//! * Fault injection at run time, keyed by a [`Target`] (resource plural,
//!   optionally API group, or a path prefix) and a count: see [`Fault`] and the
//!   convenience methods on [`FakeApi`].
//! * Every request is recorded ([`FakeApi::requests`]) with its method, raw
//!   path, raw query, decoded query pairs, headers and response status; body
//!   bytes handed to the connection are counted ([`FakeApi::bytes_sent`]).
//!
//! # What it does not fake
//!
//! * No writes, no watches, no subresources (`/status`, `/log`, `/scale`), no
//!   `OpenAPI` documents, no protobuf, no HTTP/2, no impersonation, no RBAC
//!   beyond the injected `403`s, no admission. Objects are immutable after
//!   start; the list `resourceVersion` is a constant.
//! * An object is served only at the `apiVersion` it was loaded with (the
//!   real server converts between versions of a group).
//! * List items keep their `apiVersion` and `kind` by default. The real server
//!   omits them from the items of typed lists; call
//!   [`FakeApiBuilder::strip_item_type_meta`] to mimic that.
//! * Field selectors accept any field path; the real server accepts only a
//!   per-kind allow-list and answers `400` for others.
//!
//! # Runtime model
//!
//! [`FakeApiBuilder::start`] (and [`FakeApi::start`]) are *synchronous*: they
//! bind the socket, generate the certificates, and start a dedicated
//! multi-threaded tokio runtime on a background OS thread. The server
//! therefore keeps answering while the test thread blocks (for example on
//! `std::process::Command::output` running the CLI), and the same code works
//! from a plain `#[test]` and from a `#[tokio::test]`. Request handling never
//! blocks a thread: injected delays use `tokio::time::sleep`. Dropping the
//! [`FakeApi`] stops the server and joins its thread.
//!
//! # Usage
//!
//! ```ignore
//! // Sync test; the CLI runs as a child process while the server keeps serving.
//! #[test]
//! fn cli_reports_forbidden_pods() {
//!     let fake = FakeApi::start(vec![pod_json]);
//!     fake.forbid("pods");
//!     let kubeconfig = fake.write_kubeconfig(&tmp_dir);
//!     let out = Command::new(env!("CARGO_BIN_EXE_upgrade-preflight"))
//!         .env("KUBECONFIG", &kubeconfig)
//!         .output()
//!         .unwrap();
//!     assert!(fake.requests().iter().all(|r| r.method == "GET"));
//! }
//!
//! // Async test with the kube client; `start` is sync but fine to call here.
//! #[tokio::test]
//! async fn lists_pods() {
//!     let fake = FakeApi::builder().objects(objects).git_version("v1.31.4").start();
//!     let path = fake.write_kubeconfig(&tmp_dir);
//!     let config = kube::Config::from_custom_kubeconfig(
//!         kube::config::Kubeconfig::read_from(&path).unwrap(),
//!         &kube::config::KubeConfigOptions::default(),
//!     )
//!     .await
//!     .unwrap();
//!     let client = kube::Client::try_from(config).unwrap();
//!     // ...
//! }
//! ```
//!
//! Note that kube 5 clients retry `429`, `503` and `504` by default (up to 15
//! times, sleeping for `Retry-After`); set `Config::default_retry = false` or
//! inject more failures than that to see the error.
//!
//! # Data layout
//!
//! Objects are serialised once, at start, and kept per resource in a vector
//! sorted by `(namespace, name)`. A list request binary-searches its
//! namespace range and continue position, and builds the response by
//! concatenating the stored item bytes; single objects are served without a
//! copy. Nothing is cloned per request beyond the bytes of the page itself.

// This file is shared by several test binaries and each uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// Count meaning "apply this fault to every matching request".
pub const ALWAYS: u32 = u32::MAX;

/// `gitVersion` reported by `/version` unless the builder sets another. A vanilla version:
/// an RKE2/K3s one (`+rke2r1`) makes `etcd-backup-age` look for ETCDSnapshotFiles, which a
/// real RKE2 serves and this fake serves only when a test loads some.
pub const DEFAULT_GIT_VERSION: &str = "v1.30.7";

/// User named in injected `403 Forbidden` messages unless the builder sets another.
pub const DEFAULT_USER: &str = "system:serviceaccount:default:upgrade-preflight";

/// `metadata.resourceVersion` of every list unless the builder sets another.
pub const DEFAULT_LIST_RESOURCE_VERSION: &str = "1000";

/// The invented part of the default `/metrics` body: lines shaped like kube-apiserver's own
/// (names, HELP texts and labels of its STABLE metrics as kubernetes/kubernetes
/// `test/instrumentation/testdata/stable-metrics-list.yaml` lists them; the values are made
/// up), around which [`api_server_metrics`] puts the `apiserver_requested_deprecated_apis`
/// series a test wants. See `tests/fixtures/metrics/README.md`.
const API_SERVER_METRICS_HEAD: &str = "\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.
# TYPE apiserver_request_total counter
apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"cluster\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 1842
apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"apps\",resource=\"deployments\",scope=\"namespace\",subresource=\"\",verb=\"WATCH\",version=\"v1\"} 311
";
/// See [`API_SERVER_METRICS_HEAD`].
const API_SERVER_METRICS_TAIL: &str = "\
# HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.
# TYPE apiserver_storage_objects gauge
apiserver_storage_objects{resource=\"pods\"} 57
# HELP process_start_time_seconds [ALPHA] Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.70115672318e+09
";

/// A `/metrics` body: a few (invented) API server metrics with `deprecated` — the
/// `apiserver_requested_deprecated_apis` family's lines, `""` for none requested — in the
/// place kube-apiserver writes it (families sorted by name).
#[must_use]
pub fn api_server_metrics(deprecated: &str) -> String {
    format!("{API_SERVER_METRICS_HEAD}{deprecated}{API_SERVER_METRICS_TAIL}")
}

/// Kinds the server always knows (unless [`FakeApiBuilder::without_builtin_kinds`]):
/// `(group, version, kind, plural, namespaced)`.
const BUILTIN_KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Pod", "pods", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "Endpoints", "endpoints", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Node", "nodes", false),
    ("", "v1", "Namespace", "namespaces", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
];

/// Verbs advertised for every resource in discovery.
const VERBS: [&str; 3] = ["get", "list", "watch"];

/// `Content-Type` of aggregated discovery responses.
const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Size of one frame of a [`Fault::HugeBody`] response.
const PAD_LEN: usize = 64 * 1024;
/// Padding that [`Fault::HugeBody`] frames are sliced from (no allocation per frame).
static PAD: [u8; PAD_LEN] = [b'x'; PAD_LEN];

/// Message of the real API server's `410 Expired` for a stale continue token.
const EXPIRED_MESSAGE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Raw (still percent-encoded) path, e.g. `/api/v1/namespaces/a/pods`.
    pub path: String,
    /// Raw query string without the `?`, if the URI had one.
    pub query: Option<String>,
    /// Query pairs, `+` and percent-decoded, in order, empty pairs skipped.
    pub query_pairs: Vec<(String, String)>,
    /// Request headers, lower-case names, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// Response status, or `None` when the connection was dropped on purpose.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// First value of query parameter `key`, decoded.
    #[must_use]
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query_pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// First value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An extra resource kind to advertise in discovery, with or without objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceKind {
    /// `group/version`, or `version` for the core group (e.g. `v1`).
    pub api_version: String,
    /// Kind, e.g. `Setting`.
    pub kind: String,
    /// Plural resource name used in URLs, e.g. `settings`.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl ResourceKind {
    /// A kind with an explicit plural.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        plural: impl Into<String>,
        namespaced: bool,
    ) -> Self {
        Self { api_version: api_version.into(), kind: kind.into(), plural: plural.into(), namespaced }
    }

    /// A kind whose plural follows [`plural_for_kind`].
    pub fn with_default_plural(api_version: impl Into<String>, kind: impl Into<String>, namespaced: bool) -> Self {
        let kind = kind.into();
        let plural = plural_for_kind(&kind);
        Self::new(api_version, kind, plural, namespaced)
    }
}

/// Which requests a fault applies to. Every field that is set must match.
///
/// A `&str` or `String` converts into [`Target::resource`], so
/// `fake.forbid("pods")` targets pods in every group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    plural: Option<String>,
    group: Option<String>,
    path_prefix: Option<String>,
}

impl Target {
    /// Requests for resource `plural` (list or get), in any API group.
    #[must_use]
    pub fn resource(plural: impl Into<String>) -> Self {
        Self { plural: Some(plural.into()), ..Self::default() }
    }

    /// Restricts the target to API group `group` (`""` is the core group).
    #[must_use]
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Every `GET` whose raw path starts with `prefix`, including discovery
    /// and `/version` (e.g. `/apis/metrics.k8s.io` for a broken aggregated API).
    #[must_use]
    pub fn path_prefix(prefix: impl Into<String>) -> Self {
        Self { path_prefix: Some(prefix.into()), ..Self::default() }
    }

    /// Every `GET`.
    #[must_use]
    pub fn any() -> Self {
        Self::default()
    }

    fn matches(&self, path: &str, resource: Option<&ResourcePath>) -> bool {
        if let Some(prefix) = &self.path_prefix
            && !path.starts_with(prefix.as_str())
        {
            return false;
        }
        if self.plural.is_none() && self.group.is_none() {
            return true;
        }
        let Some(resource) = resource else {
            return false;
        };
        self.plural.as_ref().is_none_or(|p| *p == resource.plural)
            && self.group.as_ref().is_none_or(|g| *g == resource.group)
    }
}

impl From<&str> for Target {
    fn from(plural: &str) -> Self {
        Self::resource(plural)
    }
}

impl From<String> for Target {
    fn from(plural: String) -> Self {
        Self::resource(plural)
    }
}

/// A misbehaviour to inject with [`FakeApi::inject`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `403 Forbidden` with the API server's RBAC message.
    Forbidden,
    /// `404 NotFound`.
    NotFound,
    /// Any status code with a `Status` body (e.g. `503 ServiceUnavailable`).
    Status {
        /// HTTP status code.
        code: u16,
        /// `Status.reason`, e.g. `InternalError`.
        reason: String,
        /// `Status.message`.
        message: String,
    },
    /// `429 TooManyRequests` with a `Retry-After` header.
    TooManyRequests {
        /// Value of `Retry-After` and of `details.retryAfterSeconds`.
        retry_after_secs: u64,
    },
    /// Wait this long (without blocking a thread) before answering. Not
    /// exclusive: the request is then answered normally or by another fault.
    Delay(Duration),
    /// Close the connection without writing a response.
    DropConnection,
    /// `410 Gone`, reason `Expired`, but only for requests carrying `continue`.
    ExpireContinue,
    /// The normal response with its body cut in half. `Content-Length` matches
    /// the cut body, so HTTP is well formed and only the JSON is broken.
    TruncatedJson,
    /// `200` with `Content-Type: text/html` and an HTML page (a proxy's error page).
    WrongContentType,
    /// `200` with a valid JSON list of `bytes` bytes (an empty `items` plus a
    /// long `padding` string), streamed in 64 KiB chunks with chunked
    /// transfer encoding (no `Content-Length`) and never held in memory whole.
    HugeBody {
        /// Total body size in bytes (at least the size of the JSON skeleton).
        bytes: u64,
    },
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

/// Options for a [`FakeApi`]; finish with [`FakeApiBuilder::start`].
#[derive(Clone, Debug)]
pub struct FakeApiBuilder {
    objects: Vec<Value>,
    kinds: Vec<ResourceKind>,
    git_version: String,
    token: Option<String>,
    user: String,
    list_resource_version: String,
    builtin_kinds: bool,
    aggregated_discovery: bool,
    strip_item_type_meta: bool,
    metrics: String,
}

impl Default for FakeApiBuilder {
    fn default() -> Self {
        Self {
            objects: Vec::new(),
            kinds: Vec::new(),
            git_version: DEFAULT_GIT_VERSION.to_owned(),
            token: None,
            user: DEFAULT_USER.to_owned(),
            list_resource_version: DEFAULT_LIST_RESOURCE_VERSION.to_owned(),
            builtin_kinds: true,
            aggregated_discovery: true,
            strip_item_type_meta: false,
            metrics: api_server_metrics(""),
        }
    }
}

impl FakeApiBuilder {
    /// Adds one object (`apiVersion`, `kind` and `metadata.name` are required).
    #[must_use]
    pub fn object(mut self, object: Value) -> Self {
        self.objects.push(object);
        self
    }

    /// Adds objects. For the same resource, namespace and name, the last wins.
    #[must_use]
    pub fn objects(mut self, objects: impl IntoIterator<Item = Value>) -> Self {
        self.objects.extend(objects);
        self
    }

    /// Advertises an extra kind; it overrides a built-in or inferred one with
    /// the same `apiVersion` and `kind`.
    #[must_use]
    pub fn resource_kind(mut self, kind: ResourceKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Sets `/version`'s `gitVersion`; `major` and `minor` are derived from it.
    #[must_use]
    pub fn git_version(mut self, git_version: impl Into<String>) -> Self {
        self.git_version = git_version.into();
        self
    }

    /// Sets the bearer token (default: random per server).
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the user named in `403` messages.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Sets `metadata.resourceVersion` of lists.
    #[must_use]
    pub fn list_resource_version(mut self, resource_version: impl Into<String>) -> Self {
        self.list_resource_version = resource_version.into();
        self
    }

    /// Serves only kinds of loaded objects and [`Self::resource_kind`]s.
    #[must_use]
    pub fn without_builtin_kinds(mut self) -> Self {
        self.builtin_kinds = false;
        self
    }

    /// Whether `/api` and `/apis` honour `Accept: ...;as=APIGroupDiscoveryList`
    /// (default `true`, as Kubernetes 1.30+). When `false` they always answer
    /// with the legacy documents, like a server older than 1.26.
    #[must_use]
    pub fn aggregated_discovery(mut self, enabled: bool) -> Self {
        self.aggregated_discovery = enabled;
        self
    }

    /// Removes `apiVersion` and `kind` from list items, as the real server
    /// does for typed lists (single-object `GET`s keep them either way).
    #[must_use]
    pub fn strip_item_type_meta(mut self) -> Self {
        self.strip_item_type_meta = true;
        self
    }

    /// Sets the `/metrics` body, served as `text/plain; version=0.0.4` whatever it holds
    /// (see [`api_server_metrics`]).
    #[must_use]
    pub fn metrics(mut self, body: impl Into<String>) -> Self {
        self.metrics = body.into();
        self
    }

    /// Generates the certificates, binds `127.0.0.1:0` and starts serving on
    /// a background thread with its own tokio runtime. Callable from sync and
    /// async code alike.
    ///
    /// # Panics
    ///
    /// If an object lacks `apiVersion`, `kind` or `metadata.name`, or if the
    /// socket, certificates or runtime cannot be set up.
    #[must_use]
    pub fn start(self) -> FakeApi {
        FakeApi::launch(self).unwrap_or_else(|e| panic!("fake_api: cannot start: {e}"))
    }
}

// ---------------------------------------------------------------------------
// The server handle
// ---------------------------------------------------------------------------

/// A running fake API server; see the module documentation.
#[derive(Debug)]
pub struct FakeApi {
    state: Arc<State>,
    addr: SocketAddr,
    ca_pem: String,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApi {
    /// Options: extra kinds, version, token, ...
    #[must_use]
    pub fn builder() -> FakeApiBuilder {
        FakeApiBuilder::default()
    }

    /// Starts a server with `objects` and default options.
    ///
    /// # Panics
    ///
    /// See [`FakeApiBuilder::start`].
    #[must_use]
    pub fn start(objects: Vec<Value>) -> FakeApi {
        Self::builder().objects(objects).start()
    }

    /// `https://127.0.0.1:<port>`.
    #[must_use]
    pub fn server_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The bound loopback address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token the server accepts.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig with cluster, user and context `fake` (current context,
    /// namespace `default`), embedding the CA and the token.
    #[must_use]
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake\n  \
               cluster:\n    \
                 server: {server}\n    \
                 certificate-authority-data: {ca}\n\
             users:\n\
             - name: fake\n  \
               user:\n    \
                 token: {token}\n\
             contexts:\n\
             - name: fake\n  \
               context:\n    \
                 cluster: fake\n    \
                 user: fake\n    \
                 namespace: default\n\
             current-context: fake\n\
             preferences: {{}}\n",
            server = self.server_url(),
            ca = BASE64.encode(self.ca_pem.as_bytes()),
            token = self.token,
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `dir/kubeconfig-<port>.yaml` (the
    /// port keeps several fakes apart in one directory) and returns the path.
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    #[must_use]
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("kubeconfig-{}.yaml", self.addr.port()));
        if let Err(e) = std::fs::write(&path, self.kubeconfig_yaml()) {
            panic!("fake_api: cannot write {}: {e}", path.display());
        }
        path
    }

    /// Writes one kubeconfig holding a cluster, user and context per `(name, fake)`, each
    /// with its own CA and token; the first context is current. For tests that reach several
    /// fake clusters through one file (`--context` repeated, `--all-contexts`).
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    #[must_use]
    pub fn write_multi_kubeconfig(dir: &Path, contexts: &[(&str, &FakeApi)]) -> PathBuf {
        let mut clusters = String::new();
        let mut users = String::new();
        let mut ctxs = String::new();
        for (name, fake) in contexts {
            clusters.push_str(&format!(
                "- name: {name}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
                fake.server_url(),
                BASE64.encode(fake.ca_pem.as_bytes())
            ));
            users.push_str(&format!("- name: {name}\n  user:\n    token: {}\n", fake.token));
            ctxs.push_str(&format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"));
        }
        let current = contexts.first().map_or("", |(n, _)| n);
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}current-context: {current}\npreferences: {{}}\n"
        );
        let path = dir.join("kubeconfig-multi.yaml");
        if let Err(e) = std::fs::write(&path, yaml) {
            panic!("fake_api: cannot write {}: {e}", path.display());
        }
        path
    }

    /// Every request received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }

    /// Response body bytes handed to connections so far (headers and TLS
    /// overhead not included).
    #[must_use]
    pub fn bytes_sent(&self) -> u64 {
        self.state.bytes_sent.load(Ordering::Relaxed)
    }

    /// TCP connections accepted so far.
    #[must_use]
    pub fn connections_accepted(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Applies `fault` to the next `times` matching `GET`s ([`ALWAYS`] for
    /// all). Rules apply in the order they were added: the first matching
    /// [`Fault::Delay`] and the first matching other fault are used, and only
    /// those two have their count consumed.
    pub fn inject(&self, target: impl Into<Target>, fault: Fault, times: u32) {
        if times == 0 {
            return;
        }
        lock(&self.state.faults).push(FaultRule { target: target.into(), fault, remaining: times });
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Always answers `403 Forbidden` for `target`.
    pub fn forbid(&self, target: impl Into<Target>) {
        self.inject(target, Fault::Forbidden, ALWAYS);
    }

    /// Always answers `404 NotFound` for `target`.
    pub fn not_found(&self, target: impl Into<Target>) {
        self.inject(target, Fault::NotFound, ALWAYS);
    }

    /// Answers `500 InternalError` the next `times` times.
    pub fn fail_500(&self, target: impl Into<Target>, times: u32) {
        let fault = Fault::Status {
            code: 500,
            reason: "InternalError".to_owned(),
            message: "Internal error occurred: injected failure".to_owned(),
        };
        self.inject(target, fault, times);
    }

    /// Answers `429 TooManyRequests` with `Retry-After: retry_after_secs` the
    /// next `times` times.
    pub fn throttle_429(&self, target: impl Into<Target>, times: u32, retry_after_secs: u64) {
        self.inject(target, Fault::TooManyRequests { retry_after_secs }, times);
    }

    /// Delays every answer for `target` by `delay`.
    pub fn delay(&self, target: impl Into<Target>, delay: Duration) {
        self.inject(target, Fault::Delay(delay), ALWAYS);
    }

    /// Closes the connection without answering the next `times` times.
    pub fn drop_connection(&self, target: impl Into<Target>, times: u32) {
        self.inject(target, Fault::DropConnection, times);
    }

    /// Answers `410 Expired` to the next `times` requests that carry `continue`.
    pub fn expire_continue(&self, target: impl Into<Target>, times: u32) {
        self.inject(target, Fault::ExpireContinue, times);
    }

    /// Cuts the next `times` bodies in half.
    pub fn truncated_json(&self, target: impl Into<Target>, times: u32) {
        self.inject(target, Fault::TruncatedJson, times);
    }

    /// Answers `200 text/html` the next `times` times.
    pub fn wrong_content_type(&self, target: impl Into<Target>, times: u32) {
        self.inject(target, Fault::WrongContentType, times);
    }

    /// Always streams a `bytes`-byte JSON body for `target`.
    pub fn huge_body(&self, target: impl Into<Target>, bytes: u64) {
        self.inject(target, Fault::HugeBody { bytes }, ALWAYS);
    }

    fn launch(options: FakeApiBuilder) -> Result<FakeApi, String> {
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| format!("set_nonblocking: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        let tls = generate_tls()?;
        let token = options.token.clone().unwrap_or_else(random_token);
        let store = Store::build(&options, addr)?;
        let state = Arc::new(State {
            store,
            token: token.clone(),
            user: options.user,
            list_resource_version: options.list_resource_version,
            aggregated_discovery: options.aggregated_discovery,
            metrics: Bytes::from(options.metrics),
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            bytes_sent: Arc::new(AtomicU64::new(0)),
            connections: AtomicU64::new(0),
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let acceptor = TlsAcceptor::from(Arc::new(tls.server_config));
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("fake-api-{}", addr.port()))
            .spawn(move || run_server(listener, acceptor, thread_state, shutdown_rx, &ready_tx))
            .map_err(|e| format!("spawn server thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("server thread exited during start-up".to_owned()),
        }
        Ok(FakeApi { state, addr, ca_pem: tls.ca_pem, token, shutdown: Some(shutdown_tx), thread: Some(thread) })
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The server may already be gone; nothing to do then.
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been printed.
            let _ = thread.join();
        }
    }
}

/// Plural the way kubectl guesses it for a kind: `s`/`x`/`ch`/`sh` + `es`,
/// consonant + `y` -> `ies`, otherwise + `s`; lower case.
#[must_use]
pub fn plural_for_kind(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && stem.chars().last().is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

// ---------------------------------------------------------------------------
// Server plumbing: runtime thread, accept loop, connections
// ---------------------------------------------------------------------------

fn run_server(
    listener: StdTcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    shutdown: oneshot::Receiver<()>,
    ready: &mpsc::Sender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fake-api-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(format!("tokio runtime: {e}")));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(format!("tokio listener: {e}")));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        accept_loop(listener, acceptor, state, shutdown).await;
    });
    // Cancels connection tasks still running (e.g. injected delays).
    runtime.shutdown_background();
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    state.connections.fetch_add(1, Ordering::Relaxed);
                    // Latency matters more than throughput for small API calls.
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(serve_connection(tcp, acceptor.clone(), Arc::clone(&state)));
                }
                // Typically EMFILE under a connection storm: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, state: Arc<State>) {
    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
        return; // handshake failed or stalled; the client sees the error
    };
    let service = hyper::service::service_fn(move |request| handle(Arc::clone(&state), request));
    // Errors here are client disconnects and injected drops; nothing to report.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Error a handler returns to make hyper close the connection unanswered.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<FakeBody>, ConnectionDropped> {
    let info = RequestInfo::new(&request);
    // The body is never read: only GET is served and anything else gets 405.
    drop(request);
    let decision = state.decide(&info);
    state.record(info, &decision);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    if decision.drop_connection {
        return Err(ConnectionDropped);
    }
    Ok(decision.reply.into_response(Arc::clone(&state.bytes_sent)))
}

// ---------------------------------------------------------------------------
// Shared state and request handling
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct State {
    store: Store,
    token: String,
    user: String,
    list_resource_version: String,
    aggregated_discovery: bool,
    metrics: Bytes,
    faults: Mutex<Vec<FaultRule>>,
    requests: Mutex<Vec<RecordedRequest>>,
    bytes_sent: Arc<AtomicU64>,
    connections: AtomicU64,
}

#[derive(Debug)]
struct FaultRule {
    target: Target,
    fault: Fault,
    remaining: u32,
}

impl FaultRule {
    fn consume(&mut self) {
        if self.remaining != ALWAYS {
            self.remaining -= 1;
        }
    }
}

/// What the handler needs from a request, detached from hyper's types.
struct RequestInfo {
    method: Method,
    path: String,
    query: Option<String>,
    query_pairs: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl RequestInfo {
    fn new(request: &Request<Incoming>) -> Self {
        let query = request.uri().query().map(str::to_owned);
        let query_pairs = query.as_deref().map(parse_query).unwrap_or_default();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self { method: request.method().clone(), path: request.uri().path().to_owned(), query, query_pairs, headers }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.query_pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn is_watch(&self) -> bool {
        matches!(self.param("watch"), Some("true" | "1"))
    }

    fn has_continue(&self) -> bool {
        self.param("continue").is_some_and(|c| !c.is_empty())
    }
}

/// How to answer one request.
struct Decision {
    reply: Reply,
    delay: Option<Duration>,
    drop_connection: bool,
}

impl From<Reply> for Decision {
    fn from(reply: Reply) -> Self {
        Self { reply, delay: None, drop_connection: false }
    }
}

impl State {
    fn decide(&self, info: &RequestInfo) -> Decision {
        if !self.authorized(info) {
            return status_reply(401, "Unauthorized", "Unauthorized", None).into();
        }
        if info.method != Method::GET {
            return method_not_allowed().into();
        }
        let route_path = normalise_path(&info.path);
        let resource = ResourcePath::parse(route_path);
        let (delay, fault) = self.take_faults(&info.path, resource.as_ref(), info.has_continue());
        let mut drop_connection = false;
        let reply = match fault {
            // Delays are split off by `take_faults`, so `Delay` never gets here.
            None | Some(Fault::Delay(_)) => self.normal_reply(info, route_path, resource.as_ref()),
            Some(Fault::Forbidden) => self.forbidden(info, resource.as_ref()),
            Some(Fault::NotFound) => not_found(resource.as_ref()),
            Some(Fault::Status { code, reason, message }) => status_reply(code, &reason, &message, None),
            Some(Fault::TooManyRequests { retry_after_secs }) => {
                let mut reply = status_reply(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    Some(json!({ "retryAfterSeconds": retry_after_secs })),
                );
                reply.retry_after = Some(retry_after_secs);
                reply
            }
            Some(Fault::ExpireContinue) => status_reply(410, "Expired", EXPIRED_MESSAGE, None),
            Some(Fault::TruncatedJson) => {
                let mut reply = self.normal_reply(info, route_path, resource.as_ref());
                if let ReplyBody::Full(body) = &reply.body {
                    reply.body = ReplyBody::Full(body.slice(..body.len() / 2));
                }
                reply
            }
            Some(Fault::WrongContentType) => Reply {
                status: StatusCode::OK,
                content_type: "text/html; charset=utf-8",
                retry_after: None,
                body: ReplyBody::Full(Bytes::from_static(
                    b"<!DOCTYPE html><html><head><title>Sign in</title></head>\
                      <body><h1>Corporate proxy</h1><p>Please sign in.</p></body></html>\n",
                )),
            },
            Some(Fault::HugeBody { bytes }) => self.huge_reply(resource.as_ref(), bytes),
            Some(Fault::DropConnection) => {
                drop_connection = true;
                status_reply(500, "InternalError", "connection dropped", None)
            }
        };
        Decision { reply, delay, drop_connection }
    }

    fn authorized(&self, info: &RequestInfo) -> bool {
        let Some(value) = info.header("authorization") else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && token.trim() == self.token
    }

    /// Picks the first matching delay and the first matching other fault,
    /// consuming one use of each, and forgets exhausted rules.
    fn take_faults(
        &self,
        path: &str,
        resource: Option<&ResourcePath>,
        has_continue: bool,
    ) -> (Option<Duration>, Option<Fault>) {
        let mut rules = lock(&self.faults);
        let mut delay = None;
        let mut fault = None;
        for rule in rules.iter_mut() {
            if rule.remaining == 0 || !rule.target.matches(path, resource) {
                continue;
            }
            match &rule.fault {
                Fault::Delay(d) => {
                    if delay.is_none() {
                        delay = Some(*d);
                        rule.consume();
                    }
                }
                Fault::ExpireContinue if !has_continue => {}
                other => {
                    if fault.is_none() {
                        fault = Some(other.clone());
                        rule.consume();
                    }
                }
            }
        }
        rules.retain(|rule| rule.remaining > 0);
        (delay, fault)
    }

    fn record(&self, info: RequestInfo, decision: &Decision) {
        let status = (!decision.drop_connection).then(|| decision.reply.status.as_u16());
        lock(&self.requests).push(RecordedRequest {
            method: info.method.as_str().to_owned(),
            path: info.path,
            query: info.query,
            query_pairs: info.query_pairs,
            headers: info.headers,
            status,
        });
    }

    fn normal_reply(&self, info: &RequestInfo, route_path: &str, resource: Option<&ResourcePath>) -> Reply {
        match route_path {
            "/metrics" => {
                return Reply {
                    status: StatusCode::OK,
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    retry_after: None,
                    body: ReplyBody::Full(self.metrics.clone()),
                };
            }
            "/healthz" | "/readyz" | "/livez" => {
                return Reply {
                    status: StatusCode::OK,
                    content_type: "text/plain; charset=utf-8",
                    retry_after: None,
                    body: ReplyBody::Full(Bytes::from_static(b"ok")),
                };
            }
            "/api" | "/apis" if self.aggregated_discovery && wants_aggregated(info) => {
                let doc = if route_path == "/api" { &self.store.aggregated_core } else { &self.store.aggregated_apis };
                return Reply {
                    status: StatusCode::OK,
                    content_type: AGGREGATED_DISCOVERY_CONTENT_TYPE,
                    retry_after: None,
                    body: ReplyBody::Full(doc.clone()),
                };
            }
            _ => {}
        }
        if let Some(doc) = self.store.documents.get(route_path) {
            return json_reply(StatusCode::OK, doc.clone());
        }
        match resource {
            Some(resource) => self.resource_reply(info, resource),
            None => not_found(None),
        }
    }

    fn resource_reply(&self, info: &RequestInfo, path: &ResourcePath) -> Reply {
        let Some(resource) = self.store.resource(path) else {
            return not_found(None);
        };
        if path.namespace.is_some() && !resource.def.namespaced {
            return not_found(None);
        }
        if info.is_watch() {
            return status_reply(405, "MethodNotAllowed", "watch is not supported by the fake API server", None);
        }
        match &path.name {
            Some(name) => {
                if resource.def.namespaced && path.namespace.is_none() {
                    return not_found(None);
                }
                let namespace = path.namespace.as_deref().unwrap_or("");
                match resource.find(namespace, name) {
                    Some(object) => json_reply(StatusCode::OK, object.json.clone()),
                    None => not_found(Some(path)),
                }
            }
            None => self.list(info, resource, path.namespace.as_deref()),
        }
    }

    fn list(&self, info: &RequestInfo, resource: &Resource, namespace: Option<&str>) -> Reply {
        let query = match ListQuery::parse(info) {
            Ok(query) => query,
            Err(message) => return bad_request(&message),
        };
        let (low, high) = resource.namespace_range(namespace);
        let identity = format!("{}|{}|{}", info.path, query.label_source, query.field_source);
        let mut start = low;
        if let Some(token) = &query.continue_token {
            if query.resource_version.as_deref().is_some_and(|rv| rv != "0") {
                return bad_request("specifying resource version is not allowed when using continue");
            }
            let key = match ContinueToken::decode(token) {
                Ok(key) if key.list == identity => key,
                Ok(_) => {
                    return bad_request("continue key is not valid: it was issued for a different list request");
                }
                Err(message) => {
                    return bad_request(&format!("continue key is not valid: {message}"));
                }
            };
            start = start.max(resource.position_after(&key.namespace, &key.name));
        }

        // Pass 1: pick the page (indices only) and look ahead for one more match.
        let mut page = Vec::new();
        let mut more = false;
        for (index, object) in resource.objects.iter().enumerate().take(high).skip(start) {
            if !query.matches(object) {
                continue;
            }
            if query.limit.is_some_and(|limit| page.len() >= limit) {
                more = true;
                break;
            }
            page.push(index);
        }

        let mut metadata = serde_json::Map::new();
        metadata.insert("resourceVersion".into(), json!(self.list_resource_version));
        if more && let Some(&last) = page.last() {
            let last = &resource.objects[last];
            let token = ContinueToken { list: identity, namespace: last.namespace.clone(), name: last.name.clone() };
            metadata.insert("continue".into(), json!(token.encode(&self.list_resource_version)));
            if query.is_unfiltered() {
                let remaining = high - (page.last().map_or(start, |&i| i + 1));
                metadata.insert("remainingItemCount".into(), json!(remaining));
            }
        }

        // Pass 2: concatenate the stored bytes into one exactly sized buffer.
        let head = format!(
            "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{},\"items\":[",
            Value::from(resource.def.api_version()),
            Value::from(format!("{}List", resource.def.kind)),
            Value::Object(metadata),
        );
        let items_len: usize = page.iter().map(|&i| resource.list_items[i].len() + 1).sum();
        let mut body = Vec::with_capacity(head.len() + items_len + 2);
        body.extend_from_slice(head.as_bytes());
        for (n, &i) in page.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&resource.list_items[i]);
        }
        body.extend_from_slice(b"]}");
        json_reply(StatusCode::OK, Bytes::from(body))
    }

    fn forbidden(&self, info: &RequestInfo, resource: Option<&ResourcePath>) -> Reply {
        let user = &self.user;
        let Some(path) = resource else {
            let message = format!("forbidden: User \"{user}\" cannot get path \"{}\"", info.path);
            return status_reply(403, "Forbidden", &message, Some(json!({})));
        };
        let verb = if path.name.is_some() {
            "get"
        } else if info.is_watch() {
            "watch"
        } else {
            "list"
        };
        let subject = match &path.name {
            Some(name) => format!("{} \"{name}\"", path.plural),
            None => path.plural.clone(),
        };
        let scope = match &path.namespace {
            Some(namespace) => format!("in the namespace \"{namespace}\""),
            None => "at the cluster scope".to_owned(),
        };
        let message = format!(
            "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            path.plural, path.group
        );
        status_reply(403, "Forbidden", &message, Some(path.details()))
    }

    fn huge_reply(&self, resource: Option<&ResourcePath>, bytes: u64) -> Reply {
        let (api_version, kind) = resource.and_then(|path| self.store.resource(path)).map_or_else(
            || ("v1".to_owned(), "List".to_owned()),
            |r| (r.def.api_version(), format!("{}List", r.def.kind)),
        );
        let head = format!(
            "{{\"apiVersion\":{},\"kind\":{},\"metadata\":{{\"resourceVersion\":{}}},\"items\":[],\"padding\":\"",
            Value::from(api_version),
            Value::from(kind),
            Value::from(self.list_resource_version.as_str()),
        );
        let head = Bytes::from(head);
        let tail = Bytes::from_static(b"\"}");
        let skeleton = (head.len() + tail.len()) as u64;
        Reply {
            status: StatusCode::OK,
            content_type: "application/json",
            retry_after: None,
            body: ReplyBody::Padded { head, pad: bytes.saturating_sub(skeleton), tail },
        }
    }
}

/// Whether `Accept` lists `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
fn wants_aggregated(info: &RequestInfo) -> bool {
    info.header("accept").is_some_and(|accept| {
        accept.split(',').any(|media| {
            let params: Vec<String> = media.split(';').map(|p| p.trim().to_owned()).collect();
            let has = |want: &str| params.iter().any(|p| p == want);
            has("g=apidiscovery.k8s.io") && has("v=v2") && has("as=APIGroupDiscoveryList")
        })
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the server down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `/apis/` and `/apis` route alike; `/` stays `/`.
fn normalise_path(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

struct Reply {
    status: StatusCode,
    content_type: &'static str,
    retry_after: Option<u64>,
    body: ReplyBody,
}

enum ReplyBody {
    Full(Bytes),
    /// `head`, then `pad` bytes of `x`, then `tail`.
    Padded {
        head: Bytes,
        pad: u64,
        tail: Bytes,
    },
}

impl Reply {
    fn into_response(self, sent: Arc<AtomicU64>) -> Response<FakeBody> {
        let chunks = match self.body {
            ReplyBody::Full(bytes) => Chunks::Full(Some(bytes)),
            ReplyBody::Padded { head, pad, tail } => Chunks::Padded { head: Some(head), pad, tail: Some(tail) },
        };
        let mut response = Response::new(FakeBody { chunks, sent });
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn json_reply(status: StatusCode, body: Bytes) -> Reply {
    Reply { status, content_type: "application/json", retry_after: None, body: ReplyBody::Full(body) }
}

/// A `meta/v1` `Status` failure body.
fn status_reply(code: u16, reason: &str, message: &str, details: Option<Value>) -> Reply {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let (Some(details), Some(map)) = (details, status.as_object_mut()) {
        map.insert("details".into(), details);
    }
    let body = serde_json::to_vec(&status).unwrap_or_default();
    json_reply(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Bytes::from(body))
}

fn not_found(resource: Option<&ResourcePath>) -> Reply {
    match resource {
        Some(path) => {
            let message = match &path.name {
                Some(name) => format!("{} \"{name}\" not found", path.plural),
                None => format!("{} not found", path.plural),
            };
            status_reply(404, "NotFound", &message, Some(path.details()))
        }
        None => status_reply(404, "NotFound", "the server could not find the requested resource", Some(json!({}))),
    }
}

fn bad_request(message: &str) -> Reply {
    status_reply(400, "BadRequest", message, None)
}

fn method_not_allowed() -> Reply {
    status_reply(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(json!({})),
    )
}

/// Response body: one buffer, or a padded stream produced chunk by chunk.
/// Counts the bytes it hands to hyper.
struct FakeBody {
    chunks: Chunks,
    sent: Arc<AtomicU64>,
}

enum Chunks {
    Full(Option<Bytes>),
    Padded { head: Option<Bytes>, pad: u64, tail: Option<Bytes> },
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let next = match &mut this.chunks {
            Chunks::Full(bytes) => bytes.take(),
            Chunks::Padded { head, pad, tail } => head.take().or_else(|| {
                if *pad > 0 {
                    let n = usize::try_from(*pad).map_or(PAD_LEN, |p| p.min(PAD_LEN));
                    *pad -= n as u64;
                    Some(Bytes::from_static(&PAD[..n]))
                } else {
                    tail.take()
                }
            }),
        };
        Poll::Ready(next.map(|bytes| {
            this.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            Ok(Frame::data(bytes))
        }))
    }

    fn is_end_stream(&self) -> bool {
        match &self.chunks {
            Chunks::Full(bytes) => bytes.is_none(),
            Chunks::Padded { head, pad, tail } => head.is_none() && *pad == 0 && tail.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.chunks {
            // Exact: hyper sends `Content-Length`.
            Chunks::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            // Unknown: hyper uses chunked transfer encoding.
            Chunks::Padded { .. } => SizeHint::default(),
        }
    }
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

/// A request for a resource collection or a single object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourcePath {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
}

impl ResourcePath {
    /// Parses `/api/{v}/...` and `/apis/{g}/{v}/...` below the discovery level.
    fn parse(path: &str) -> Option<Self> {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let (group, version, rest) = match segments.as_slice() {
            [api, version, rest @ ..] if api == "api" && !rest.is_empty() => (String::new(), version.clone(), rest),
            // Only the core group (under `/api`) has an empty name.
            [apis, group, version, rest @ ..] if apis == "apis" && !group.is_empty() && !rest.is_empty() => {
                (group.clone(), version.clone(), rest)
            }
            _ => return None,
        };
        let (namespace, plural, name) = match rest {
            [ns_word, namespace, plural] if ns_word == "namespaces" => (Some(namespace.clone()), plural.clone(), None),
            [ns_word, namespace, plural, name] if ns_word == "namespaces" => {
                (Some(namespace.clone()), plural.clone(), Some(name.clone()))
            }
            [plural] => (None, plural.clone(), None),
            [plural, name] => (None, plural.clone(), Some(name.clone())),
            _ => return None,
        };
        if version.is_empty()
            || plural.is_empty()
            || namespace.as_ref().is_some_and(String::is_empty)
            || name.as_ref().is_some_and(String::is_empty)
        {
            return None;
        }
        Some(Self { group, version, namespace, plural, name })
    }

    fn details(&self) -> Value {
        let mut details = json!({ "group": self.group, "kind": self.plural });
        if let (Some(name), Some(map)) = (&self.name, details.as_object_mut()) {
            map.insert("name".into(), json!(name));
        }
        details
    }
}

/// `application/x-www-form-urlencoded` pairs: `+` is a space, then percent-decoding.
fn parse_query(raw: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    }
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Object store and discovery documents
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourceDef {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
}

impl ResourceDef {
    fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    fn singular(&self) -> String {
        self.kind.to_lowercase()
    }
}

#[derive(Debug)]
struct StoredObject {
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    /// The object as loaded, served by `GET`.
    json: Bytes,
}

#[derive(Debug)]
struct Resource {
    def: ResourceDef,
    /// Sorted by `(namespace, name)`, unique.
    objects: Vec<StoredObject>,
    /// Per object, the bytes used in lists: `json`, or `json` without
    /// `apiVersion`/`kind` under [`FakeApiBuilder::strip_item_type_meta`].
    list_items: Vec<Bytes>,
}

impl Resource {
    /// Index range of `namespace` (everything for `None`).
    fn namespace_range(&self, namespace: Option<&str>) -> (usize, usize) {
        match namespace {
            None => (0, self.objects.len()),
            Some(ns) => (
                self.objects.partition_point(|o| o.namespace.as_str() < ns),
                self.objects.partition_point(|o| o.namespace.as_str() <= ns),
            ),
        }
    }

    /// Index of the first object after key `(namespace, name)`.
    fn position_after(&self, namespace: &str, name: &str) -> usize {
        self.objects.partition_point(|o| (o.namespace.as_str(), o.name.as_str()) <= (namespace, name))
    }

    fn find(&self, namespace: &str, name: &str) -> Option<&StoredObject> {
        self.objects
            .binary_search_by(|o| (o.namespace.as_str(), o.name.as_str()).cmp(&(namespace, name)))
            .ok()
            .map(|i| &self.objects[i])
    }
}

/// Everything that never changes after start.
#[derive(Debug)]
struct Store {
    resources: Vec<Resource>,
    /// `(group, version, plural)` -> index into `resources`.
    index: HashMap<(String, String, String), usize>,
    /// Legacy discovery documents and `/version`, by path.
    documents: HashMap<String, Bytes>,
    aggregated_core: Bytes,
    aggregated_apis: Bytes,
}

impl Store {
    fn resource(&self, path: &ResourcePath) -> Option<&Resource> {
        let key = (path.group.clone(), path.version.clone(), path.plural.clone());
        self.index.get(&key).map(|&i| &self.resources[i])
    }

    fn build(options: &FakeApiBuilder, addr: SocketAddr) -> Result<Self, String> {
        // Resource definitions keyed by (group, version, kind).
        let mut defs: BTreeMap<(String, String, String), ResourceDef> = BTreeMap::new();
        if options.builtin_kinds {
            for &(group, version, kind, plural, namespaced) in BUILTIN_KINDS {
                let def = ResourceDef {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    kind: kind.to_owned(),
                    plural: plural.to_owned(),
                    namespaced,
                };
                defs.insert((def.group.clone(), def.version.clone(), def.kind.clone()), def);
            }
        }

        let mut buckets: BTreeMap<(String, String, String), Vec<(StoredObject, Bytes)>> = BTreeMap::new();
        let mut seen_namespace: BTreeSet<(String, String, String)> = BTreeSet::new();
        for (position, object) in options.objects.iter().enumerate() {
            let (key, stored, list_item) = load_object(object, options.strip_item_type_meta)
                .map_err(|e| format!("object #{position} ({}): {e}", brief(object)))?;
            if !stored.namespace.is_empty() {
                seen_namespace.insert(key.clone());
            }
            buckets.entry(key).or_default().push((stored, list_item));
        }

        for key in buckets.keys() {
            if defs.contains_key(key) {
                continue;
            }
            let (group, version, kind) = key.clone();
            let builtin = BUILTIN_KINDS.iter().find(|b| b.2 == kind);
            let def = ResourceDef {
                plural: builtin.map_or_else(|| plural_for_kind(&kind), |b| b.3.to_owned()),
                namespaced: builtin.map_or_else(|| seen_namespace.contains(key), |b| b.4),
                group,
                version,
                kind,
            };
            defs.insert(key.clone(), def);
        }
        for extra in &options.kinds {
            let (group, version) = split_api_version(&extra.api_version);
            let def = ResourceDef {
                group,
                version,
                kind: extra.kind.clone(),
                plural: extra.plural.clone(),
                namespaced: extra.namespaced,
            };
            defs.insert((def.group.clone(), def.version.clone(), def.kind.clone()), def);
        }

        let mut resources = Vec::with_capacity(defs.len());
        let mut index = HashMap::new();
        for (key, def) in defs {
            let mut entries = buckets.remove(&key).unwrap_or_default();
            // Last one wins: reverse, stable sort, keep the first of each key.
            entries.reverse();
            entries.sort_by(|(a, _), (b, _)| {
                (a.namespace.as_str(), a.name.as_str()).cmp(&(b.namespace.as_str(), b.name.as_str()))
            });
            entries.dedup_by(|(a, _), (b, _)| a.namespace == b.namespace && a.name == b.name);
            let (objects, list_items) = entries.into_iter().unzip();
            let path_key = (def.group.clone(), def.version.clone(), def.plural.clone());
            if index.contains_key(&path_key) {
                return Err(format!("two kinds share plural {:?} in {}", def.plural, def.api_version()));
            }
            index.insert(path_key, resources.len());
            resources.push(Resource { def, objects, list_items });
        }

        let defs: Vec<&ResourceDef> = resources.iter().map(|r| &r.def).collect();
        let documents = legacy_documents(&defs, &options.git_version, addr)?;
        let groups = group_versions(&defs);
        let core_versions: Vec<String> = groups.get("").cloned().unwrap_or_default();
        let aggregated_core = to_bytes(&aggregated_list(&defs, &BTreeMap::from([(String::new(), core_versions)])))?;
        let mut named_groups = groups;
        named_groups.remove("");
        let aggregated_apis = to_bytes(&aggregated_list(&defs, &named_groups))?;
        Ok(Self { resources, index, documents, aggregated_core, aggregated_apis })
    }
}

/// Validates one object and pre-serialises it.
#[allow(clippy::type_complexity)]
fn load_object(
    object: &Value,
    strip_type_meta: bool,
) -> Result<((String, String, String), StoredObject, Bytes), String> {
    let api_version =
        object.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or("missing apiVersion")?;
    let kind = object.get("kind").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or("missing kind")?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("missing metadata.name")?;
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let labels = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| labels.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default();
    let json = to_bytes(object)?;
    let list_item = if strip_type_meta {
        let mut stripped = object.clone();
        if let Some(map) = stripped.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
        to_bytes(&stripped)?
    } else {
        json.clone()
    };
    let (group, version) = split_api_version(api_version);
    let stored = StoredObject { namespace: namespace.to_owned(), name: name.to_owned(), labels, json };
    Ok(((group, version, kind.to_owned()), stored, list_item))
}

fn brief(object: &Value) -> String {
    let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or("?").to_owned();
    format!("{} {} {}", field("/apiVersion"), field("/kind"), field("/metadata/name"))
}

fn to_bytes(value: &Value) -> Result<Bytes, String> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| format!("cannot serialise JSON: {e}"))
}

/// `apps/v1` -> `("apps", "v1")`; `v1` -> `("", "v1")`.
fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.split_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), api_version.to_owned()),
    }
}

/// Group -> versions, most preferred first.
fn group_versions(defs: &[&ResourceDef]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for def in defs {
        groups.entry(def.group.clone()).or_default().insert(def.version.clone());
    }
    groups
        .into_iter()
        .map(|(group, versions)| {
            let mut versions: Vec<String> = versions.into_iter().collect();
            versions.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)).then(a.cmp(b)));
            (group, versions)
        })
        .collect()
}

/// Kubernetes version ordering: GA > beta > alpha, then by numbers; versions
/// that do not look like `vN[alpha|betaM]` sort last.
fn version_priority(version: &str) -> (u8, u64, u64) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let Ok(major) = rest[..digits_end].parse::<u64>() else {
        return (0, 0, 0);
    };
    let suffix = &rest[digits_end..];
    if suffix.is_empty() {
        return (3, major, 0);
    }
    for (stage, rank) in [("beta", 2), ("alpha", 1)] {
        if let Some(n) = suffix.strip_prefix(stage)
            && let Ok(n) = n.parse::<u64>()
        {
            return (rank, major, n);
        }
    }
    (0, 0, 0)
}

fn resource_entry(def: &ResourceDef) -> Value {
    json!({
        "name": def.plural,
        "singularName": def.singular(),
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": VERBS,
    })
}

/// `/version`, `/api`, `/api/{v}`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}`.
fn legacy_documents(
    defs: &[&ResourceDef],
    git_version: &str,
    addr: SocketAddr,
) -> Result<HashMap<String, Bytes>, String> {
    let mut documents = HashMap::new();
    let groups = group_versions(defs);

    let mut numbers = git_version.trim_start_matches('v').split('.');
    let mut number =
        || numbers.next().map(|n| n.chars().take_while(char::is_ascii_digit).collect::<String>()).unwrap_or_default();
    let (major, minor) = (number(), number());
    documents.insert(
        "/version".to_owned(),
        to_bytes(&json!({
            "major": major,
            "minor": minor,
            "emulationMajor": major,
            "emulationMinor": minor,
            "minCompatibilityMajor": major,
            "minCompatibilityMinor": minor,
            "gitVersion": git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2024-11-20T00:00:00Z",
            "goVersion": "go1.22.8",
            "compiler": "gc",
            "platform": "linux/amd64",
        }))?,
    );

    let core_versions = groups.get("").cloned().unwrap_or_default();
    documents.insert(
        "/api".to_owned(),
        to_bytes(&json!({
            "kind": "APIVersions",
            "versions": core_versions,
            "serverAddressByClientCIDRs": [
                { "clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string() }
            ],
        }))?,
    );

    let mut group_list = Vec::new();
    for (group, versions) in &groups {
        for version in versions {
            let resources: Vec<Value> =
                defs.iter().filter(|d| d.group == *group && d.version == *version).map(|d| resource_entry(d)).collect();
            let group_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            let path = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
            documents.insert(
                path,
                to_bytes(&json!({
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": group_version,
                    "resources": resources,
                }))?,
            );
        }
        if group.is_empty() {
            continue;
        }
        let version_entries: Vec<Value> =
            versions.iter().map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v })).collect();
        let api_group = json!({
            "name": group,
            "versions": version_entries,
            "preferredVersion": version_entries.first(),
        });
        let mut group_doc = api_group.clone();
        if let Some(map) = group_doc.as_object_mut() {
            map.insert("kind".into(), json!("APIGroup"));
            map.insert("apiVersion".into(), json!("v1"));
        }
        documents.insert(format!("/apis/{group}"), to_bytes(&group_doc)?);
        group_list.push(api_group);
    }
    documents.insert(
        "/apis".to_owned(),
        to_bytes(&json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": group_list,
        }))?,
    );
    Ok(documents)
}

/// An `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` for `groups`.
fn aggregated_list(defs: &[&ResourceDef], groups: &BTreeMap<String, Vec<String>>) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = defs
                        .iter()
                        .filter(|d| d.group == *group && d.version == *version)
                        .map(|d| {
                            json!({
                                "resource": d.plural,
                                "responseKind": { "group": d.group, "version": d.version, "kind": d.kind },
                                "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": d.singular(),
                                "verbs": VERBS,
                            })
                        })
                        .collect();
                    json!({ "version": version, "resources": resources, "freshness": "Current" })
                })
                .collect();
            let metadata = if group.is_empty() {
                json!({ "creationTimestamp": null })
            } else {
                json!({ "name": group, "creationTimestamp": null })
            };
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

// ---------------------------------------------------------------------------
// List queries: selectors, limit, continue
// ---------------------------------------------------------------------------

struct ListQuery {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
    label_source: String,
    field_source: String,
    limit: Option<usize>,
    continue_token: Option<String>,
    resource_version: Option<String>,
}

impl ListQuery {
    fn parse(info: &RequestInfo) -> Result<Self, String> {
        let label_source = info.param("labelSelector").unwrap_or("").to_owned();
        let field_source = info.param("fieldSelector").unwrap_or("").to_owned();
        let limit = match info.param("limit").filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                // `limit=0` and negative limits mean "no limit" to the real server.
                Ok(_) => None,
                Err(_) => return Err(format!("invalid limit {raw:?}")),
            },
        };
        Ok(Self {
            labels: parse_selector(&label_source, SelectorKind::Label)?,
            fields: parse_selector(&field_source, SelectorKind::Field)?,
            label_source,
            field_source,
            limit,
            continue_token: info.param("continue").filter(|s| !s.is_empty()).map(str::to_owned),
            resource_version: info.param("resourceVersion").filter(|s| !s.is_empty()).map(str::to_owned),
        })
    }

    fn is_unfiltered(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    fn matches(&self, object: &StoredObject) -> bool {
        let labels_match = self.labels.iter().all(|r| r.matches(object.labels.get(&r.key).map(String::as_str)));
        if !labels_match {
            return false;
        }
        // Parsed at most once per object, and only for non-metadata fields.
        let mut parsed: Option<Value> = None;
        self.fields.iter().all(|r| {
            let value = match r.key.as_str() {
                "metadata.name" => object.name.clone(),
                "metadata.namespace" => object.namespace.clone(),
                path => {
                    let document =
                        parsed.get_or_insert_with(|| serde_json::from_slice(&object.json).unwrap_or(Value::Null));
                    field_value(document, path)
                }
            };
            r.matches(Some(&value))
        })
    }
}

/// Value of dotted `path` as the API server compares it; missing is `""`.
fn field_value(document: &Value, path: &str) -> String {
    let pointer = path.split('.').fold(String::new(), |mut pointer, part| {
        pointer.push('/');
        pointer.push_str(part);
        pointer
    });
    match document.pointer(&pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SelectorKind {
    Label,
    Field,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    Equals(String),
    NotEquals(String),
    Exists,
    DoesNotExist,
    In(Vec<String>),
    NotIn(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
}

impl Requirement {
    /// `value` is the label (or field) value, `None` when absent.
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.operator, value) {
            (Operator::Equals(want), Some(v)) => v == want,
            (Operator::NotEquals(want), Some(v)) => v != want,
            (Operator::Exists, Some(_))
            | (Operator::DoesNotExist | Operator::NotEquals(_) | Operator::NotIn(_), None) => true,
            (Operator::In(set), Some(v)) => set.iter().any(|s| s == v),
            (Operator::NotIn(set), Some(v)) => set.iter().all(|s| s != v),
            (Operator::Equals(_) | Operator::Exists | Operator::In(_), None) | (Operator::DoesNotExist, Some(_)) => {
                false
            }
        }
    }
}

/// Parses a label or field selector; comma means AND, commas inside `( )` do not split.
fn parse_selector(source: &str, kind: SelectorKind) -> Result<Vec<Requirement>, String> {
    let mut requirements = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in source.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&source[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&source[start..]);
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            if source.trim().is_empty() {
                continue;
            }
            return Err(format!("unable to parse requirement: empty term in {source:?}"));
        }
        requirements.push(parse_requirement(part, kind)?);
    }
    Ok(requirements)
}

fn parse_requirement(term: &str, kind: SelectorKind) -> Result<Requirement, String> {
    let invalid = || format!("unable to parse requirement: {term:?}");
    let valid_word = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    let requirement = |key: &str, operator| {
        if valid_word(key) { Ok(Requirement { key: key.to_owned(), operator }) } else { Err(invalid()) }
    };
    let value = |s: &str| {
        let s = s.trim();
        if s.contains(char::is_whitespace) { Err(invalid()) } else { Ok(s.to_owned()) }
    };
    if let Some((key, v)) = term.split_once("!=") {
        return requirement(key.trim(), Operator::NotEquals(value(v)?));
    }
    if let Some((key, v)) = term.split_once("==") {
        return requirement(key.trim(), Operator::Equals(value(v)?));
    }
    if let Some((key, v)) = term.split_once('=') {
        return requirement(key.trim(), Operator::Equals(value(v)?));
    }
    if kind == SelectorKind::Field {
        return Err(format!("invalid field selector: {term:?}"));
    }
    if let Some(key) = term.strip_prefix('!') {
        return requirement(key.trim(), Operator::DoesNotExist);
    }
    if let Some(open) = term.find('(') {
        let close = term.rfind(')').filter(|&c| c > open && c == term.len() - 1);
        let Some(close) = close else {
            return Err(invalid());
        };
        let mut words = term[..open].split_whitespace();
        let (Some(key), Some(op), None) = (words.next(), words.next(), words.next()) else {
            return Err(invalid());
        };
        let values = term[open + 1..close].split(',').map(value).collect::<Result<Vec<_>, _>>()?;
        return match op {
            "in" => requirement(key, Operator::In(values)),
            "notin" => requirement(key, Operator::NotIn(values)),
            _ => Err(invalid()),
        };
    }
    requirement(term, Operator::Exists)
}

/// The position a continuation resumes after, bound to one list request.
struct ContinueToken {
    /// Request path and selectors the token was issued for.
    list: String,
    namespace: String,
    name: String,
}

impl ContinueToken {
    fn encode(&self, resource_version: &str) -> String {
        let payload = json!({
            "v": 1,
            "rv": resource_version,
            "list": self.list,
            "start": [self.namespace, self.name],
        });
        BASE64_URL.encode(payload.to_string())
    }

    fn decode(token: &str) -> Result<Self, String> {
        let bytes = BASE64_URL.decode(token.trim_end_matches('=')).map_err(|e| format!("not base64url: {e}"))?;
        let payload: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("missing {pointer}"))
        };
        Ok(Self { list: text("/list")?, namespace: text("/start/0")?, name: text("/start/1")? })
    }
}

// ---------------------------------------------------------------------------
// TLS material and token
// ---------------------------------------------------------------------------

struct TlsMaterial {
    ca_pem: String,
    server_config: rustls::ServerConfig,
}

/// A CA and a server certificate for `127.0.0.1` and `localhost`, signed by it.
fn generate_tls() -> Result<TlsMaterial, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let err = |what: &str| {
        let what = what.to_owned();
        move |e: rcgen::Error| format!("{what}: {e}")
    };

    let ca_key = KeyPair::generate().map_err(err("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err("CA params"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "fake-api test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err("CA cert"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(err("server key"))?;
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(err("server params"))?;
    server_params.distinguished_name.push(DnType::CommonName, "fake-kube-apiserver");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(err("server cert"))?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    // Explicit provider: independent of (and not installing) the process default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)
        .map_err(|e| format!("TLS server config: {e}"))?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial { ca_pem: ca_cert.pem(), server_config })
}

/// Unpredictable enough for a loopback test server; not for real secrets.
fn random_token() -> String {
    use std::fmt::Write as _;
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut token = String::from("fake-");
    for round in 0..2_u8 {
        let mut hasher = state.build_hasher();
        hasher.write_u8(round);
        hasher
            .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let _ = write!(token, "{:016x}", hasher.finish());
    }
    token
}
