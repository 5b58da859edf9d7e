//! Every fault the fake API server can inject, table-driven: each run must end in the
//! correct verdict or a clear error, with the documented exit code, within `--timeout`
//! (plus process start-up), and never with a panic. `tests/live.rs` covers the retry and
//! restart mechanics in detail; this table covers the outcome of each fault end to end.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_api::{ALWAYS, FakeApi, Fault, Target};
use crate::util::run;

const HEALTHY: &str = "tests/fixtures/clusters/healthy.yaml";

/// `--timeout` for every run, and what is allowed on top of it (start-up, evaluation).
const TIMEOUT_S: u64 = 6;
const SLACK: Duration = Duration::from_secs(6);

struct Case {
    name: &'static str,
    inject: fn(&FakeApi),
    extra: &'static [&'static str],
    code: i32,
    /// Each must appear in stderr or in a `couldNotEvaluate` reason.
    expect: &'static [&'static str],
    /// What the server must have seen; `Err` says what was wrong.
    seen: fn(&FakeApi) -> Result<(), String>,
}

fn any(_: &FakeApi) -> Result<(), String> {
    Ok(())
}

/// Statuses the server answered for `path`, in order (`None`: connection dropped).
fn statuses(f: &FakeApi, path: &str) -> Vec<Option<u16>> {
    f.requests().iter().filter(|r| r.path == path).map(|r| r.status).collect()
}

fn status(code: u16, reason: &str) -> Fault {
    Fault::Status { code, reason: reason.into(), message: format!("injected {code}") }
}

const CASES: &[Case] = &[
    Case { name: "no fault", inject: |_| {}, extra: &[], code: 0, expect: &[], seen: any },
    Case {
        name: "403 on nodes",
        inject: |f| f.forbid("nodes"),
        extra: &[],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: forbidden: list nodes at cluster scope"],
        seen: |f| {
            // A 403 is final: no retry.
            let st = statuses(f, "/api/v1/nodes");
            if st == [Some(403)] { Ok(()) } else { Err(format!("nodes: {st:?}")) }
        },
    },
    Case {
        name: "404 on pods",
        inject: |f| f.not_found("pods"),
        extra: &[],
        code: 3,
        expect: &["unstable-pods: cannot read Pod: list pods at cluster scope: HTTP 404"],
        seen: any,
    },
    Case {
        name: "404 on a group's discovery",
        inject: |f| f.not_found(Target::path_prefix("/apis/apps/v1")),
        extra: &[],
        code: 3,
        expect: &["unavailable-workloads: cannot read DaemonSet.apps: discovery /apis/apps/v1: HTTP 404"],
        seen: any,
    },
    Case {
        name: "429 on every nodes list",
        inject: |f| f.throttle_429("nodes", ALWAYS, 1),
        extra: &[],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: list nodes at cluster scope: HTTP 429"],
        seen: |f| {
            // One request and four retries, each after the Retry-After second.
            let st = statuses(f, "/api/v1/nodes");
            if st == [Some(429); 5] { Ok(()) } else { Err(format!("nodes: {st:?}")) }
        },
    },
    Case {
        name: "429 then success",
        inject: |f| f.throttle_429(Target::any(), 2, 1),
        extra: &[],
        code: 0,
        expect: &[],
        seen: any,
    },
    Case {
        name: "500 on every ingress list",
        inject: |f| f.fail_500("ingresses", ALWAYS),
        extra: &[],
        // ingress-resource-backend is info: no verdict for it is a warning, not NO-GO.
        code: 0,
        expect: &[
            "ingress-resource-backend: cannot read Ingress.networking.k8s.io: list ingresses.networking.k8s.io at cluster scope: HTTP 500",
        ],
        seen: any,
    },
    Case {
        name: "503 on /version",
        inject: |f| f.inject(Target::path_prefix("/version"), status(503, "ServiceUnavailable"), ALWAYS),
        extra: &[],
        code: 3,
        expect: &["cannot reach the cluster at https://127.0.0.1:", "HTTP 503: injected 503"],
        seen: any,
    },
    Case {
        name: "slow beyond --timeout",
        inject: |f| f.delay(Target::any(), Duration::from_secs(120)),
        extra: &["--request-timeout", "60"],
        code: 3,
        expect: &["timed out after 6s collecting from the cluster (raise --timeout?)"],
        seen: any,
    },
    Case {
        name: "slow lists beyond --request-timeout",
        inject: |f| f.delay("nodes", Duration::from_secs(120)),
        extra: &["--request-timeout", "1"],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: list nodes at cluster scope: no response within 1s"],
        seen: any,
    },
    Case {
        name: "slow but in time",
        inject: |f| f.delay(Target::any(), Duration::from_millis(300)),
        extra: &[],
        code: 0,
        expect: &[],
        seen: any,
    },
    Case {
        name: "connection dropped on every nodes list",
        inject: |f| f.drop_connection("nodes", ALWAYS),
        extra: &[],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: list nodes at cluster scope: "],
        seen: any,
    },
    Case {
        name: "connection dropped on /version",
        inject: |f| f.drop_connection(Target::path_prefix("/version"), ALWAYS),
        extra: &[],
        code: 3,
        expect: &["cannot reach the cluster at https://127.0.0.1:"],
        seen: any,
    },
    Case {
        name: "410 on every continue",
        inject: |f| f.expire_continue("nodes", ALWAYS),
        extra: &["--page-size", "1"],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: list nodes at cluster scope: HTTP 410"],
        seen: |f| {
            // The first list, then three restarts, each failing on its continue.
            let fresh = f
                .requests()
                .iter()
                .filter(|r| r.path == "/api/v1/nodes" && r.query_param("continue").is_none())
                .count();
            if fresh == 4 { Ok(()) } else { Err(format!("{fresh} fresh node lists")) }
        },
    },
    Case {
        name: "410 once",
        inject: |f| f.expire_continue("nodes", 1),
        extra: &["--page-size", "1"],
        code: 0,
        expect: &[],
        seen: any,
    },
    Case {
        name: "truncated JSON on /version",
        inject: |f| f.truncated_json(Target::path_prefix("/version"), ALWAYS),
        extra: &[],
        code: 3,
        expect: &["cannot reach the cluster at https://127.0.0.1:", "/version is not a version"],
        seen: any,
    },
    Case {
        name: "truncated JSON in discovery",
        inject: |f| f.truncated_json(Target::path_prefix("/api/v1"), ALWAYS),
        extra: &[],
        code: 3,
        expect: &["nodes-not-ready: cannot read Node: discovery /api/v1: "],
        seen: any,
    },
    Case {
        name: "wrong content type on /apis",
        inject: |f| f.wrong_content_type(Target::path_prefix("/apis"), ALWAYS),
        extra: &[],
        code: 3,
        expect: &[
            "unavailable-workloads: cannot read DaemonSet.apps: discovery /apis: unexpected content type text/html",
        ],
        seen: any,
    },
    Case {
        name: "2 GiB response cut off at the limit",
        inject: |f| f.huge_body("pods", 2 << 30),
        extra: &[],
        code: 3,
        expect: &[
            "unstable-pods: cannot read Pod: list pods at cluster scope: response exceeds the 256 MiB limit; not retried",
        ],
        seen: |f| {
            // Read up to the limit once, not retried, and never to the end.
            let sent = f.bytes_sent();
            let pods = statuses(f, "/api/v1/pods").len();
            if pods == 1 && (256 << 20..1 << 30).contains(&sent) {
                Ok(())
            } else {
                Err(format!("{pods} pod lists, {sent} bytes sent"))
            }
        },
    },
];

/// Outcome of one case: exit code, and stderr plus every could-not-evaluate reason.
struct Outcome {
    code: i32,
    text: String,
    took: Duration,
    verdict: Option<String>,
    stderr: String,
}

fn run_case(case: &Case, objects: &[Value]) -> (Outcome, FakeApi) {
    let fake = FakeApi::builder().objects(objects.to_vec()).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    (case.inject)(&fake);
    let timeout = TIMEOUT_S.to_string();
    let mut args = vec!["check", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json", "--timeout", &timeout];
    args.extend_from_slice(case.extra);
    let started = Instant::now();
    let out = run(&args);
    let took = started.elapsed();
    let mut text = out.stderr.clone();
    let mut verdict = None;
    if !out.stdout.is_empty() {
        let r: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON ({e}): {}", case.name, out.stdout));
        for s in r["couldNotEvaluate"].as_array().unwrap() {
            text.push_str(&format!("\n{}: {}", s["checkId"].as_str().unwrap(), s["reason"].as_str().unwrap()));
        }
        verdict = r["verdict"].as_str().map(ToString::to_string);
    }
    (Outcome { code: out.code, text, took, verdict, stderr: out.stderr }, fake)
}

fn objects() -> Vec<Value> {
    let text = std::fs::read_to_string(crate::util::root().join(HEALTHY)).unwrap();
    let mut objs = Vec::new();
    for (_, d) in upgrade_preflight::inventory::snapshot::parse_documents(&text, HEALTHY).unwrap() {
        match d.get("items").and_then(Value::as_array) {
            Some(items) => objs.extend(items.iter().cloned()),
            None if d["kind"] != "SnapshotInfo" => objs.push(d),
            None => {}
        }
    }
    objs
}

#[test]
fn every_fault_ends_in_a_verdict_or_a_clear_error_within_the_timeout() {
    let objects = objects();
    // Two at a time: each case is a child process, some wait for timeouts.
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = CASES
            .chunks(CASES.len().div_ceil(2))
            .map(|chunk| {
                let objects = &objects;
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for case in chunk {
                        let (o, fake) = run_case(case, objects);
                        let mut problems = Vec::new();
                        if o.stderr.contains("panicked") {
                            problems.push("panicked".to_string());
                        }
                        if o.code != case.code {
                            problems.push(format!("exit {} (expected {})", o.code, case.code));
                        }
                        if o.took > Duration::from_secs(TIMEOUT_S) + SLACK {
                            problems.push(format!("took {:?}", o.took));
                        }
                        for e in case.expect {
                            if !o.text.contains(e) {
                                problems.push(format!("no {e:?}"));
                            }
                        }
                        // A report is always a verdict; an error is one line.
                        match &o.verdict {
                            Some(v) => {
                                let expected =
                                    if case.code == 0 { ["GO", "GO-WITH-WARNINGS"] } else { ["NO-GO", "NO-GO"] };
                                if !expected.contains(&v.as_str()) {
                                    problems.push(format!("verdict {v}"));
                                }
                            }
                            None if o.stderr.trim_end().lines().count() != 1 => {
                                problems.push("no report and not a one-line error".to_string());
                            }
                            None => {}
                        }
                        if let Err(e) = (case.seen)(&fake) {
                            problems.push(e);
                        }
                        if fake.requests().iter().any(|r| r.method != "GET") {
                            problems.push("a request other than GET".to_string());
                        }
                        if !problems.is_empty() {
                            failures.push(format!("{}: {}\n{}", case.name, problems.join("; "), o.text));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
