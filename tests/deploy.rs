//! The in-cluster gate: deploy/job.yaml and the Helm pre-upgrade hook chart parse, use the
//! least-privilege ServiceAccount of deploy/rbac.yaml, run a command line the binary
//! accepts, and are locked down (non-root, read-only root, no escalation, no capabilities).

use clap::Parser as _;
use serde_json::{Value, json};

use crate::util::root;

const DEMO: &str = "examples/demo-cluster.yaml";

fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Option<Value>>(text)
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}\n{text}"))
        .into_iter()
        .flatten()
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// The ServiceAccount and ClusterRole names deploy/rbac.yaml defines, and its binding.
fn rbac() -> (String, String, String) {
    let docs = yaml_docs(&read("deploy/rbac.yaml"), "deploy/rbac.yaml");
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}")).clone();
    let (sa, role, binding) = (find("ServiceAccount"), find("ClusterRole"), find("ClusterRoleBinding"));
    let sa_name = sa["metadata"]["name"].as_str().unwrap().to_string();
    let sa_ns = sa["metadata"]["namespace"].as_str().unwrap().to_string();
    assert_eq!(binding["subjects"][0], json!({"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns}));
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    // Applying the file is enough: it adds the ServiceAccount's namespace first.
    assert_eq!(docs[0]["kind"], "Namespace");
    assert_eq!(docs[0]["metadata"]["name"], sa_ns.as_str());
    (sa_name, sa_ns, role["metadata"]["name"].as_str().unwrap().to_string())
}

/// The pod spec of a Job is locked down and runs `upgrade-preflight check -o json`; run on
/// `snapshot` instead of a cluster, its arguments give `code`.
fn assert_hardened_check_job(job: &Value, service_account: &str, image: &str, (snapshot, code): (&str, i32)) {
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["backoffLimit"], 0, "a NO-GO is not retried");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], service_account);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert!(pod["securityContext"]["runAsUser"].as_u64().is_some());
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["image"], image);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert!(c["resources"]["limits"]["memory"].is_string(), "bounded memory");
    // The arguments are a command line the binary accepts: check, JSON to stdout.
    let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&args[..3], ["check", "-o", "json"]);
    let cli =
        upgrade_preflight::commands::cli::Cli::try_parse_from(std::iter::once("upgrade-preflight").chain(args.clone()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let upgrade_preflight::commands::cli::Command::Check(check) = cli.command else { panic!("not check") };
    assert_eq!(check.output, upgrade_preflight::report::Format::Json);
    assert!(check.snapshot.is_none() && check.output_file.is_none() && !check.quiet, "the report goes to stdout");
    // Ids in the arguments exist (the parser alone does not know the catalog).
    let out = crate::util::run(&[&args[..], &["--snapshot", snapshot]].concat());
    assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["schemaVersion"], 1, "{report}");
    let verdict = report["verdict"].as_str().unwrap_or_default();
    assert_eq!(verdict.starts_with("NO-GO"), code != 0, "verdict {verdict} against exit {code}");
}

/// The container's arguments.
fn job_args(job: &Value) -> Vec<&str> {
    job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[test]
fn the_job_uses_the_least_privilege_service_account_and_is_locked_down() {
    let (sa, _, _) = rbac();
    let docs = yaml_docs(&read("deploy/job.yaml"), "deploy/job.yaml");
    assert_eq!(docs.len(), 1);
    let job = &docs[0];
    assert!(job["metadata"].get("namespace").is_none(), "applied into the ServiceAccount's namespace");
    let image = format!("ghcr.io/example/upgrade-preflight:{}", env!("CARGO_PKG_VERSION"));
    assert_hardened_check_job(job, &sa, &image, (DEMO, 1));
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["args"], json!(["check", "-o", "json"]));
    let header = read("deploy/job.yaml");
    assert!(header.contains("kubectl -n upgrade-preflight apply -f deploy/job.yaml"), "usage documented");
}

// ---------------------------------------------------------------------------------------
// A deliberately tiny renderer for the Go-template subset the hook chart uses, so the
// rendered manifests can be parsed without Helm. Anything else in a template fails the test.
// ---------------------------------------------------------------------------------------

struct Scope {
    values: Value,
    release: Value,
    chart: Value,
}

impl Scope {
    fn lookup(&self, path: &str) -> Value {
        let mut parts = path.trim_start_matches('.').split('.');
        let mut v = match parts.next() {
            Some("Values") => &self.values,
            Some("Release") => &self.release,
            Some("Chart") => &self.chart,
            other => panic!("unsupported template object {other:?} in {path}"),
        };
        for p in parts {
            v = v.get(p).unwrap_or_else(|| panic!("{path}: no '{p}'"));
        }
        v.clone()
    }

    fn atom(&self, word: &str) -> Value {
        if word.starts_with('.') {
            self.lookup(word)
        } else if let Ok(n) = word.parse::<i64>() {
            json!(n)
        } else if word.starts_with('"') {
            serde_json::from_str(word).unwrap()
        } else {
            panic!("unsupported template word {word}")
        }
    }

    /// `a | f x | g`: each stage is a function applied to its words, the piped value last.
    fn eval(&self, expr: &str) -> Value {
        let mut piped: Option<Value> = None;
        for stage in expr.split('|').map(str::trim) {
            let words: Vec<&str> = stage.split_whitespace().collect();
            let mut args: Vec<Value> = words.iter().skip(1).map(|w| self.atom(w)).collect();
            args.extend(piped.take());
            piped = Some(match words[0] {
                w if w.starts_with('.') => self.atom(w),
                "default" => {
                    let (fallback, v) = (&args[0], &args[1]);
                    let empty = v.is_null() || *v == json!("") || *v == json!([]) || *v == json!({});
                    if empty { fallback.clone() } else { v.clone() }
                }
                "quote" => json!(serde_json::to_string(&text(&args[0])).unwrap()),
                "concat" => json!(args.iter().flat_map(|a| a.as_array().unwrap().clone()).collect::<Vec<_>>()),
                // A list as Helm prints it, one `- item` per line (so a template may continue the
                // list); anything else as JSON, which is YAML.
                "toYaml" => match &args[0] {
                    Value::Array(items) => json!(
                        items
                            .iter()
                            .map(|i| format!("- {}", serde_json::to_string(i).unwrap()))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                    other => json!(serde_json::to_string(other).unwrap()),
                },
                "nindent" => {
                    let n = usize::try_from(args[0].as_i64().unwrap()).unwrap();
                    let pad = " ".repeat(n);
                    json!(text(&args[1]).lines().map(|l| format!("\n{pad}{l}")).collect::<String>())
                }
                f => panic!("unsupported template function {f}"),
            });
        }
        piped.unwrap()
    }

    fn render(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            let end = rest[start..].find("}}").unwrap() + start;
            let mut inner = &rest[start + 2..end];
            let mut before = &rest[..start];
            if let Some(i) = inner.strip_prefix('-') {
                inner = i;
                before = before.trim_end();
            }
            out.push_str(before);
            let mut after = &rest[end + 2..];
            if let Some(i) = inner.strip_suffix('-') {
                inner = i;
                after = after.trim_start();
            }
            assert!(!inner.contains("if ") && !inner.contains("range "), "control flow is not supported: {inner}");
            out.push_str(&text(&self.eval(inner.trim())));
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn the_helm_hook_fails_the_upgrade_on_anything_but_go() {
    let chart: Value = serde_saphyr::from_str(&read("deploy/helm-hook/Chart.yaml")).unwrap();
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"), "the default image tag is this release");
    let values: Value = serde_saphyr::from_str(&read("deploy/helm-hook/values.yaml")).unwrap();
    assert_eq!(values["image"]["repository"], "ghcr.io/example/upgrade-preflight");
    let scope = Scope {
        values: values.clone(),
        release: json!({"Name": "web", "Namespace": "apps"}),
        chart: json!({"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}),
    };
    let mut docs = Vec::new();
    for name in ["serviceaccount.yaml", "job.yaml"] {
        let rendered = scope.render(&read(&format!("deploy/helm-hook/templates/{name}")));
        assert!(!rendered.contains("{{"), "{rendered}");
        docs.extend(yaml_docs(&rendered, name));
    }
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ClusterRoleBinding", "Job"]);
    let weight =
        |d: &Value| d["metadata"]["annotations"]["helm.sh/hook-weight"].as_str().unwrap().parse::<i32>().unwrap();
    for d in &docs {
        let a = &d["metadata"]["annotations"];
        assert_eq!(a["helm.sh/hook"], "pre-upgrade", "{d}");
        let policy = a["helm.sh/hook-delete-policy"].as_str().unwrap();
        assert!(policy.contains("before-hook-creation"), "a rerun replaces the last attempt: {policy}");
        assert!(!policy.contains("hook-failed"), "a failed gate stays for inspection: {policy}");
    }
    let (sa, binding, job) = (&docs[0], &docs[1], &docs[2]);
    assert!(weight(sa) < weight(job) && weight(binding) < weight(job), "RBAC exists before the Job runs");
    // The ServiceAccount lives in the release namespace and gets the ClusterRole of rbac.yaml.
    let (_, _, role) = rbac();
    let sa_name = values["serviceAccountName"].as_str().unwrap().to_string();
    let sa_name = sa_name.as_str();
    assert_eq!(sa["metadata"]["name"], sa_name);
    assert!(sa["metadata"].get("namespace").is_none());
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role})
    );
    assert_eq!(binding["subjects"], json!([{"kind": "ServiceAccount", "name": sa_name, "namespace": "apps"}]));
    assert_eq!(binding["metadata"]["name"], "apps-web-upgrade-preflight", "unique per release");
    assert_eq!(job["metadata"]["name"], "web-preflight");
    let image = format!("ghcr.io/example/upgrade-preflight:{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 600);
    // The planned change is the revision Helm is upgrading to, read from its storage: no
    // hand-written --manifest or --target. (The release being upgraded is pending-upgrade
    // while its pre-upgrade hooks run.)
    let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(
        args,
        &json!(["check", "-o", "json", "--skip", "helm-release-in-progress", "--pending-release", "apps/web"])
    );
    // As Helm stores it while pre-upgrade hooks run: apps/web deployed at chart 15.0.0, the
    // upgrade to 15.1.0 pending. A snapshot has no release payloads, so the hook's command
    // line is refused on one; what it plans is what --target release:apps/web=pending plans there.
    let pending = "tests/fixtures/checks/helm-release-in-progress/fail.pending-upgrade.yaml";
    let out = crate::util::run(&[&job_args(job)[..], &["--snapshot", pending][..]].concat());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--pending-release apps/web"), "{}", out.stderr);
    let on_snapshot = as_on_a_snapshot(job);
    assert_hardened_check_job(&on_snapshot, sa_name, &image, (pending, 0));
    let out = crate::util::run(&[&job_args(&on_snapshot)[..], &["--snapshot", pending][..]].concat());
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["plan"][0]["current"], "15.0.0", "{report}");
    assert_eq!(report["plan"][0]["target"], "15.1.0", "{report}");
    // Outside an upgrade (nothing pending) the planned version is refused, not passed.
    let settled = "tests/fixtures/checks/helm-release-in-progress/pass.settled.yaml";
    let out = crate::util::run(&[&job_args(&on_snapshot)[..], &["--snapshot", settled][..]].concat());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not pending-upgrade"), "{}", out.stderr);

    // extraArgs and an image tag are honoured.
    let mut v = values;
    v["extraArgs"] = json!(["--fail-on", "warning"]);
    v["image"]["tag"] = json!("9.9.9");
    let scope = Scope { values: v, ..scope };
    let job = &yaml_docs(&scope.render(&read("deploy/helm-hook/templates/job.yaml")), "job.yaml")[0];
    assert_hardened_check_job(&as_on_a_snapshot(job), sa_name, "ghcr.io/example/upgrade-preflight:9.9.9", (pending, 0));
    let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[5], "--fail-on");
    assert_eq!(args[6], "warning");
    assert_eq!((args[7].as_str(), args[8].as_str()), (Some("--pending-release"), Some("apps/web")));
}

/// The Job with `--pending-release NS/NAME` replaced by what a snapshot can judge of it,
/// `--target release:NS/NAME=pending` (the chart version only: a snapshot has no payloads).
fn as_on_a_snapshot(job: &Value) -> Value {
    let mut job = job.clone();
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"].as_array_mut().unwrap();
    let at = args.iter().position(|a| a == "--pending-release").unwrap();
    let release = args[at + 1].as_str().unwrap().to_string();
    args[at] = json!("--target");
    args[at + 1] = json!(format!("release:{release}=pending"));
    job
}

/// `(apiGroup, resource)` pairs the ClusterRole of deploy/rbac.yaml grants.
fn granted_by_rbac() -> std::collections::BTreeSet<(String, String)> {
    let docs = yaml_docs(&read("deploy/rbac.yaml"), "deploy/rbac.yaml");
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let mut out = std::collections::BTreeSet::new();
    for rule in role["rules"].as_array().unwrap().iter().filter(|r| r.get("nonResourceURLs").is_none()) {
        assert_eq!(rule["verbs"], json!(["get", "list"]), "{rule}");
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                out.insert((g.as_str().unwrap().to_string(), r.as_str().unwrap().to_string()));
            }
        }
    }
    out
}

#[test]
fn the_helm_hook_judges_the_pending_revision_in_the_cluster_with_the_shipped_role() {
    use crate::pending::{start, text, upgrading};
    let chart: Value = serde_saphyr::from_str(&read("deploy/helm-hook/Chart.yaml")).unwrap();
    let values: Value = serde_saphyr::from_str(&read("deploy/helm-hook/values.yaml")).unwrap();
    let scope = |values: Value| Scope {
        values,
        release: json!({"Name": "ingress-nginx", "Namespace": "ingress-nginx"}),
        chart: json!({"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}),
    };
    let render = |scope: &Scope| -> Vec<(String, Value)> {
        let mut docs = Vec::new();
        for name in ["serviceaccount.yaml", "job.yaml"] {
            let path = format!("ingress-nginx/charts/upgrade-preflight-hook/templates/{name}");
            docs.extend(
                yaml_docs(&scope.render(&read(&format!("deploy/helm-hook/templates/{name}"))), name)
                    .into_iter()
                    .map(|d| (path.clone(), d)),
            );
        }
        docs
    };
    // The hook chart is a subchart of the chart being upgraded: Helm stores its objects as the
    // pending revision's pre-upgrade hooks, and has created them (ServiceAccount, binding,
    // this Job) by the time the Job runs.
    let cluster = |scope: &Scope, pending_manifest: &str| -> Vec<Value> {
        let rendered = render(scope);
        let hooks: Vec<Value> = rendered
            .iter()
            .map(|(path, d)| {
                json!({"name": d["metadata"]["name"], "kind": d["kind"], "path": path,
                                    "manifest": d.to_string(), "events": ["pre-upgrade"]})
            })
            .collect();
        let mut objects = upgrading(pending_manifest, &json!({"hooks": hooks}));
        for (_, mut d) in rendered {
            if d["metadata"].get("namespace").is_none() && d["kind"] != "ClusterRoleBinding" {
                d["metadata"]["namespace"] = json!("ingress-nginx");
            }
            objects.push(d);
        }
        objects
    };

    // The default values: the pending ingress-nginx v1.7.0 changes the admission Jobs'
    // templates, which the API server refuses: the hook fails the upgrade.
    let scope_default = scope(values.clone());
    let job = render(&scope_default).into_iter().find(|(_, d)| d["kind"] == "Job").unwrap().1;
    let (fake, _dir, kc) = start(cluster(&scope_default, &text(crate::change::NEW)));
    let out = crate::util::run(&[&job_args(&job)[..], &["--kubeconfig", &kc, "--timeout", "30"][..]].concat());
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(crate::change::findings(&r, "immutable-field-change").len(), 2, "{:#?}", r["findings"]);
    // The hook's own objects (recreated hooks) are no finding, and nothing is unknown for
    // want of permissions: everything the run listed, the shipped ClusterRole grants.
    let own = ["ingress-nginx-preflight", "upgrade-preflight-hook", "ingress-nginx-ingress-nginx-upgrade-preflight"];
    for f in r["findings"].as_array().unwrap() {
        for o in f["objects"].as_array().unwrap() {
            assert!(!own.contains(&o["name"].as_str().unwrap_or_default()), "{f}");
        }
    }
    assert_eq!(r["couldNotEvaluate"], json!([]), "{:#?}", r["couldNotEvaluate"]);
    let granted = granted_by_rbac();
    let reqs = fake.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"));
    for q in reqs.iter().filter(|q| q.query_param("limit").is_some()) {
        let parts: Vec<&str> = q.path.trim_start_matches('/').split('/').collect();
        let group = if parts[0] == "api" { String::new() } else { parts[1].to_string() };
        let plural = parts.last().unwrap().to_string();
        assert!(granted.contains(&(group.clone(), plural.clone())), "{group}/{plural} is listed but not granted");
    }
    assert!(reqs.iter().any(|q| q.path == "/api/v1/namespaces/ingress-nginx/secrets"), "the release storage is read");

    // A clean revision (and the known-bad ranges of the running controller skipped through
    // extraArgs) passes the gate.
    let mut v = values;
    v["extraArgs"] = json!(["--skip", crate::change::SKIP_CVES]);
    let scope_clean = scope(v);
    let job = render(&scope_clean).into_iter().find(|(_, d)| d["kind"] == "Job").unwrap().1;
    let mut objects = cluster(&scope_clean, &text(crate::change::OLD));
    objects.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "ingress-nginx-controller-admission-x7k2p", "namespace": "ingress-nginx",
                     "labels": {"kubernetes.io/service-name": "ingress-nginx-controller-admission"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.0.17"], "conditions": {"ready": true}}],
        "ports": [{"name": "https-webhook", "port": 8443, "protocol": "TCP"}]}));
    let (_fake, _dir2, kc) = start(objects);
    let out = crate::util::run(&[&job_args(&job)[..], &["--kubeconfig", &kc, "--timeout", "30"][..]].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
}
