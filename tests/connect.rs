//! Connecting like kubectl: exec credential plugins and a gcp auth-provider's `cmd-path`
//! (under `--timeout`, several contexts too), the other legacy auth-providers (used or
//! refused up front), proxies (`proxy-url`, `HTTPS_PROXY`/`NO_PROXY`) through a loopback CONNECT proxy the
//! test starts, and the `insecure-skip-tls-verify` warning. All against the fake API server.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::fake_api::FakeApi;
use crate::live::start;
use crate::proxy::Proxy;
use crate::util::{Out, run_env};

const HEALTHY: &str = "tests/fixtures/clusters/healthy.yaml";

/// Proxy variables of the machine running the tests must not steer these runs.
const NO_ENV_PROXY: [(&str, &str); 6] = [
    ("HTTPS_PROXY", ""),
    ("https_proxy", ""),
    ("HTTP_PROXY", ""),
    ("http_proxy", ""),
    ("NO_PROXY", ""),
    ("no_proxy", ""),
];

fn run_with(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut all: Vec<(&str, &str)> = NO_ENV_PROXY.to_vec();
    all.extend_from_slice(env);
    run_env(args, &all)
}

/// One context `name` of a kubeconfig: `cluster` and `user` are the YAML bodies.
pub struct Ctx {
    pub name: String,
    pub cluster: String,
    pub user: String,
}

pub fn kubeconfig(dir: &Path, file: &str, contexts: &[Ctx]) -> PathBuf {
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let mut y = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for c in contexts {
        y.push_str(&format!("- name: {}\n  cluster:\n{}", c.name, indent(&c.cluster)));
    }
    y.push_str("users:\n");
    for c in contexts {
        y.push_str(&format!("- name: {}\n  user:\n{}", c.name, indent(&c.user)));
    }
    y.push_str("contexts:\n");
    for c in contexts {
        y.push_str(&format!("- name: {0}\n  context: {{cluster: {0}, user: {0}}}\n", c.name));
    }
    y.push_str(&format!("current-context: {}\n", contexts[0].name));
    let path = dir.join(file);
    std::fs::write(&path, y).unwrap();
    path
}

pub fn ca(fake: &FakeApi) -> String {
    base64::engine::general_purpose::STANDARD.encode(fake.ca_pem())
}

/// An executable shell script.
pub fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.to_str().unwrap().to_string()
}

pub fn exec_user(command: &str) -> String {
    format!(
        "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: {command}\n  interactiveMode: Never\n  provideClusterInfo: true\n"
    )
}

#[test]
fn an_exec_plugin_supplies_the_token() {
    let fake = start(HEALTHY);
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("exec-info.json");
    let plugin = script(
        dir.path(),
        "token-plugin",
        &format!(
            "printf '%s' \"$KUBERNETES_EXEC_INFO\" > {}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'",
            info.display(),
            fake.token()
        ),
    );
    let kc = kubeconfig(
        dir.path(),
        "kc.yaml",
        &[Ctx {
            name: "fake".into(),
            cluster: format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake)),
            user: exec_user(&plugin),
        }],
    );
    let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "-q"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("GO"), "{}", out.stdout);
    let seen: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    assert_eq!(seen["kind"], "ExecCredential");
    assert_eq!(seen["spec"]["interactive"], false);
    assert_eq!(seen["spec"]["cluster"]["server"], fake.server_url(), "provideClusterInfo");
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    assert!(fake.requests().iter().any(|r| r.header("authorization") == Some(&format!("Bearer {}", fake.token()))));
}

/// `pid` is still running (a zombie awaiting its reaper counts as ended).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

#[test]
fn a_hung_exec_plugin_is_stopped_at_the_timeout_in_every_context() {
    let dir = tempfile::tempdir().unwrap();
    let fake = start(HEALTHY);
    let mut contexts = Vec::new();
    let mut pid_files = Vec::new();
    for name in ["a", "b", "c"] {
        let pid = dir.path().join(format!("{name}.pid"));
        let plugin =
            script(dir.path(), &format!("hang-{name}"), &format!("echo $$ > {}\nexec sleep 120", pid.display()));
        pid_files.push(pid);
        contexts.push(Ctx {
            name: name.into(),
            cluster: format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake)),
            user: exec_user(&plugin),
        });
    }
    let kc = kubeconfig(dir.path(), "kc.yaml", &contexts);
    let kc = kc.to_str().unwrap();

    // One context.
    let started = Instant::now();
    let out = run_with(&["check", "--kubeconfig", kc, "--context", "a", "--timeout", "2"], &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.stderr.contains("context a: exec credential plugin hang-a: did not finish within --timeout"),
        "{}",
        out.stderr
    );
    let pid = std::fs::read_to_string(&pid_files[0]).unwrap();
    assert!(!alive(pid.trim()), "the plugin (pid {pid}) was not stopped");

    // Every context, concurrently: each bounded by --timeout, none hangs the run.
    let started = Instant::now();
    let out = run_with(&["check", "--kubeconfig", kc, "--all-contexts", "--timeout", "2", "-o", "json"], &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(took < Duration::from_secs(12), "took {took:?}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (name, pid) in ["a", "b", "c"].iter().zip(&pid_files) {
        let err = report["clusters"][name]["error"].as_str().unwrap();
        assert!(err.contains("did not finish within --timeout"), "{name}: {err}");
        let pid = std::fs::read_to_string(pid).unwrap();
        assert!(!alive(pid.trim()), "the plugin of {name} (pid {pid}) was not stopped");
    }
    // No request reached the server without a credential.
    assert!(fake.requests().is_empty(), "{:?}", fake.requests().len());
}

/// A user whose legacy gcp auth-provider runs `cmd_path` (kubeconfig `config` keys as gcloud
/// wrote them before gke-gcloud-auth-plugin), plus `extra` config lines.
pub fn gcp_user(cmd_path: &str, extra: &str) -> String {
    let mut user = format!(
        "auth-provider:\n  name: gcp\n  config:\n    cmd-path: {cmd_path}\n    cmd-args: config config-helper --format=json\n    token-key: '{{.credential.access_token}}'\n    expiry-key: '{{.credential.token_expiry}}'\n"
    );
    for line in extra.lines() {
        user.push_str(&format!("    {line}\n"));
    }
    user
}

#[test]
fn a_gcp_auth_provider_command_supplies_the_token() {
    let fake = start(HEALTHY);
    let dir = tempfile::tempdir().unwrap();
    let args = dir.path().join("args");
    // What `gcloud config config-helper --format=json` prints, trimmed.
    let gcloud = script(
        dir.path(),
        "gcloud",
        &format!(
            "echo \"$@\" > {}\necho '{{\"configuration\":{{\"active_configuration\":\"default\"}},\"credential\":{{\"access_token\":\"{}\",\"token_expiry\":\"2099-01-01T00:00:00Z\"}}}}'",
            args.display(),
            fake.token()
        ),
    );
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake));
    let kc = kubeconfig(dir.path(), "kc.yaml", &[Ctx { name: "gke".into(), cluster, user: gcp_user(&gcloud, "") }]);
    let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "-q"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("GO"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&args).unwrap(), "config config-helper --format=json\n");
    assert!(!fake.requests().is_empty());
    assert!(
        fake.requests().iter().all(|r| r.header("authorization") == Some(&format!("Bearer {}", fake.token()))),
        "every request carries the command's token"
    );
}

#[test]
fn a_hung_gcp_auth_provider_command_is_stopped_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let fake = start(HEALTHY);
    let pid = dir.path().join("gcloud.pid");
    let gcloud = script(dir.path(), "hung-gcloud", &format!("echo $$ > {}\nexec sleep 120", pid.display()));
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake));
    let kc = kubeconfig(dir.path(), "kc.yaml", &[Ctx { name: "gke".into(), cluster, user: gcp_user(&gcloud, "") }]);
    let started = Instant::now();
    let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "--timeout", "2"], &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.stderr.contains("context gke: gcp auth-provider command hung-gcloud: did not finish within --timeout"),
        "{}",
        out.stderr
    );
    let pid = std::fs::read_to_string(&pid).unwrap();
    assert!(!alive(pid.trim()), "the command (pid {pid}) was not stopped");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests().len());
}

#[test]
fn legacy_auth_providers_without_a_bounded_source_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let fake = start(HEALTHY);
    // Would hang if it were ever run.
    let hang = script(dir.path(), "hang", "exec sleep 120");
    let user = |body: &str| format!("auth-provider:\n{}", body.lines().map(|l| format!("  {l}\n")).collect::<String>());
    let cases = [
        (
            "gcp-adc",
            user("name: gcp\nconfig: {scopes: https://www.googleapis.com/auth/cloud-platform}"),
            "the gcp auth-provider without cmd-path needs Google application default credentials",
        ),
        (
            "azure",
            user("name: azure\nconfig: {apiserver-id: x, tenant-id: y}"),
            "the azure auth-provider is not supported",
        ),
        (
            "oidc",
            user("name: oidc\nconfig: {idp-issuer-url: https://issuer.example.test, refresh-token: r}"),
            "the oidc auth-provider has no id-token",
        ),
        ("keystone", user("name: openstack\nconfig: {}"), "the auth-provider openstack is not supported"),
        (
            "both",
            format!("{}{}", gcp_user(&hang, ""), exec_user(&hang)),
            "its user has both an auth-provider and an exec credential plugin",
        ),
    ];
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake));
    let contexts: Vec<Ctx> = cases
        .iter()
        .map(|(name, user, _)| Ctx { name: (*name).into(), cluster: cluster.clone(), user: user.clone() })
        .collect();
    let kc = kubeconfig(dir.path(), "kc.yaml", &contexts);
    for (name, _, why) in &cases {
        let started = Instant::now();
        let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "--context", name, "--timeout", "60"], &[]);
        assert_eq!(out.code, 3, "{name}: {}", out.stderr);
        assert!(started.elapsed() < Duration::from_secs(20), "{name}: took {:?}", started.elapsed());
        assert!(out.stderr.contains(&format!("context {name}: {why}")), "{name}: {}", out.stderr);
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests().len());
}

#[test]
fn stored_auth_provider_tokens_are_used_without_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let fake = start(HEALTHY);
    let ran = dir.path().join("ran");
    let gcloud = script(dir.path(), "gcloud", &format!("touch {}\nexit 1", ran.display()));
    let cached = format!("access-token: {}\nexpiry: '2099-01-01T00:00:00Z'", fake.token());
    let stale = "access-token: stale\nexpiry: '2000-01-01T00:00:00Z'";
    let oidc = format!("auth-provider:\n  name: oidc\n  config:\n    id-token: {}\n", fake.token());
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), ca(&fake));
    let ctx = |name: &str, user: String| Ctx { name: name.into(), cluster: cluster.clone(), user };
    let kc = kubeconfig(
        dir.path(),
        "kc.yaml",
        &[ctx("cached", gcp_user(&gcloud, &cached)), ctx("oidc", oidc), ctx("stale", gcp_user(&gcloud, stale))],
    );
    let kc = kc.to_str().unwrap();
    for name in ["cached", "oidc"] {
        let out = run_with(&["check", "--kubeconfig", kc, "--context", name, "-q"], &[]);
        assert_eq!(out.code, 0, "{name}: {}{}", out.stdout, out.stderr);
        assert!(!ran.exists(), "{name}: the command ran");
    }
    assert!(fake.requests().iter().all(|r| r.header("authorization") == Some(&format!("Bearer {}", fake.token()))));
    // An expired stored token is not used: the command runs (and fails here).
    let out = run_with(&["check", "--kubeconfig", kc, "--context", "stale", "-q"], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("context stale: gcp auth-provider command gcloud: failed (exit status 1)"),
        "{}",
        out.stderr
    );
    assert!(ran.exists());
}

fn proxied_kubeconfig(dir: &Path, fake: &FakeApi, proxy_url: Option<&str>) -> PathBuf {
    // A name only the proxy resolves: without the proxy, this server cannot be reached.
    let mut cluster = format!(
        "server: https://kube.example.test:{}\ncertificate-authority-data: {}\ntls-server-name: localhost",
        fake.addr().port(),
        ca(fake)
    );
    if let Some(p) = proxy_url {
        cluster.push_str(&format!("\nproxy-url: {p}"));
    }
    kubeconfig(
        dir,
        &format!("kc-{}.yaml", proxy_url.is_some()),
        &[Ctx { name: "fake".into(), cluster, user: format!("token: {}", fake.token()) }],
    )
}

#[test]
fn the_kubeconfig_proxy_url_is_used() {
    let fake = start(HEALTHY);
    let proxy = Proxy::start(&["kube.example.test"]);
    let dir = tempfile::tempdir().unwrap();
    let kc = proxied_kubeconfig(dir.path(), &fake, Some(&proxy.url()));
    // NO_PROXY does not apply to a kubeconfig's proxy-url (client-go).
    let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "-q"], &[("NO_PROXY", "*")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let target = format!("kube.example.test:{}", fake.addr().port());
    assert!(!proxy.connects().is_empty() && proxy.connects().iter().all(|c| c == &target), "{:?}", proxy.connects());
    assert!(fake.requests().iter().all(|r| r.method == "GET") && !fake.requests().is_empty());
}

#[test]
fn https_proxy_and_no_proxy_are_honoured_as_kubectl_does() {
    let fake = start(HEALTHY);
    let proxy = Proxy::start(&["kube.example.test"]);
    let dir = tempfile::tempdir().unwrap();
    let kc = proxied_kubeconfig(dir.path(), &fake, None);
    let kc = kc.to_str().unwrap();
    let url = proxy.url();
    // Without a proxy the name does not resolve: the cluster cannot be reached.
    let out = run_with(&["check", "--kubeconfig", kc, "-q", "--timeout", "10", "--request-timeout", "3"], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(proxy.connects().is_empty());
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let out = run_with(&["check", "--kubeconfig", kc, "-q"], &[(var, &url)]);
        assert_eq!(out.code, 0, "{var}: {}{}", out.stdout, out.stderr);
    }
    let through = proxy.connects().len();
    assert!(through >= 2, "{:?}", proxy.connects());
    // HTTP_PROXY is not for an https:// server; NO_PROXY excludes the server's domain.
    for env in [vec![("HTTP_PROXY", url.as_str())], vec![("HTTPS_PROXY", url.as_str()), ("NO_PROXY", ".example.test")]]
    {
        let out = run_with(&["check", "--kubeconfig", kc, "-q", "--timeout", "10", "--request-timeout", "3"], &env);
        assert_eq!(out.code, 3, "{env:?}: {}", out.stderr);
    }
    assert_eq!(proxy.connects().len(), through, "{:?}", proxy.connects());
}

#[test]
fn insecure_skip_tls_verify_works_with_one_warning_line() {
    let fake = start(HEALTHY);
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        "kc.yaml",
        &[Ctx {
            name: "lab".into(),
            cluster: format!("server: {}\ninsecure-skip-tls-verify: true", fake.server_url()),
            user: format!("token: {}", fake.token()),
        }],
    );
    let out = run_with(&["check", "--kubeconfig", kc.to_str().unwrap(), "-q"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("insecure-skip-tls-verify")).collect();
    assert_eq!(
        warnings,
        [
            "upgrade-preflight: warning: context lab: insecure-skip-tls-verify is set: the API server's certificate is not verified"
        ],
        "{}",
        out.stderr
    );
    // Verified connections say nothing.
    let normal = fake.write_kubeconfig(dir.path());
    let out = run_with(&["check", "--kubeconfig", normal.to_str().unwrap(), "-q"], &[]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stderr, "");
}
