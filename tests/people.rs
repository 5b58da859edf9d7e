//! For people at a terminal: --quiet, -v, shell completions and the man page.

use crate::util::run;

const DEMO: &str = "examples/demo-cluster.yaml";
const HEALTHY: &str = "tests/fixtures/clusters/healthy.yaml";

#[test]
fn quiet_prints_only_the_verdict_line() {
    let out = run(&["check", "--snapshot", HEALTHY, "-q"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "GO: 0 blocker(s), 0 warning(s)\n"));
    let out = run(&["check", "--snapshot", DEMO, "--quiet"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "NO-GO: 10 blocker(s), 4 warning(s), 1 check(s) could not be evaluated\n");
    let out = run(&["check", "--snapshot", DEMO, "-q", "-v"]);
    assert_eq!(out.code, 2, "quiet and verbose contradict each other");
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn verbose_lists_each_passed_check_and_why() {
    let plain = run(&["check", "--snapshot", HEALTHY]);
    let out = run(&["check", "--snapshot", HEALTHY, "-v"]);
    assert_eq!(out.code, 0);
    assert!(!plain.stdout.contains("\nPassed\n"));
    let passed: Vec<&str> =
        out.stdout.split("\nPassed\n").nth(1).unwrap().split("\n\n").next().unwrap().lines().collect();
    for line in [
        "  nodes-not-ready (blocker): evaluated 2 Nodes, none matched",
        "  unavailable-workloads (blocker): evaluated 2 Deployments, none matched",
        "  floating-image-tags (blocker): read 2 Deployments, found nothing",
        "  haraka-pinned-version (warning): Haraka 3.0.5 is within its pin =3.0.5",
        "  rancher-agent-ingress-panic (blocker): Rancher 2.8.5 is not in <2.7.8",
    ] {
        assert!(passed.contains(&line), "{line:?} missing from {passed:#?}");
    }
    // Exactly the evaluated checks without findings: all of them on a healthy cluster.
    let (_, r) = crate::util::check_json(HEALTHY, &[]);
    assert_eq!(passed.len() as u64, r["summary"]["evaluated"].as_u64().unwrap());
    // Otherwise the report is unchanged.
    assert_eq!(out.stdout.replace(&format!("Passed\n{}\n\n", passed.join("\n")), ""), plain.stdout);

    // On the demo, checks with findings are not listed as passed; a rule whose required
    // check found nothing says so.
    let out = run(&["check", "--snapshot", DEMO, "-v"]);
    let passed = out.stdout.split("\nPassed\n").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(!passed.contains("unstable-pods") && !passed.contains("rancher-agent-ingress-panic"), "{passed}");
    assert!(passed.contains("  nodes-not-ready (blocker): evaluated 3 Nodes, none matched"), "{passed}");
    let out = run(&[
        "check",
        "--snapshot",
        "tests/fixtures/checks/rancher-agent-ingress-panic/pass.agent-v2.7.5-no-lb-address.yaml",
        "-v",
        "--only",
        "rancher-agent-ingress-panic",
    ]);
    assert!(
        out.stdout.contains("\nPassed\n  rancher-agent-ingress-panic (blocker): Rancher 2.7.5 is in <2.7.8, but check 'ingress-resource-backend' found nothing\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn verbose_with_a_planned_upgrade() {
    let out = run(&["check", "--snapshot", DEMO, "-v", "--target", "kubernetes=1.26"]);
    let passed = out.stdout.split("\nPassed\n").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(
        passed.contains("  upgrade-path (blocker): checked against the planned upgrade, found nothing"),
        "{passed}"
    );
    // Passed on the running Rancher 2.8.5, a finding at the target 2.7.5: not listed as passed.
    let out = run(&["check", "--snapshot", HEALTHY, "-v", "--target", "rancher=2.7.5"]);
    let (_, r) = crate::util::check_json(HEALTHY, &["--target", "rancher=2.7.5"]);
    assert!(crate::util::finding_ids(&r).contains(&"rancher-2-7-5-skip".to_string()));
    let passed = out.stdout.split("\nPassed\n").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(!passed.contains("rancher-2-7-5-skip") && !passed.contains("upgrade-path"), "{passed}");
    assert!(passed.contains("  nodes-not-ready (blocker)"), "{passed}");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.len() > 500, "{shell}: {}", out.stdout);
        for sub in ["check", "snapshot", "rbac", "validate", "list", "explain", "completions", "man"] {
            assert!(out.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(out.stdout.contains("snapshot") && out.stdout.contains("all-contexts"), "{shell}");
    }
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid value 'tcsh'") && out.stderr.contains("bash"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn man_pages_are_roff() {
    let out = run(&["man"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{}", &out.stdout[..80.min(out.stdout.len())]);
    assert!(out.stdout.contains(".TH upgrade-preflight 1"), "{}", out.stdout);
    for sub in ["check", "snapshot", "rbac", "validate", "list", "explain", "completions", "man"] {
        assert!(out.stdout.contains(&format!("upgrade\\-preflight\\-{sub}(1)")), "man page lacks {sub}");
    }
    let out = run(&["man", "check"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(".TH upgrade-preflight-check 1"), "{}", out.stdout);
    assert!(out.stdout.contains("\\-\\-snapshot") && out.stdout.contains("\\-\\-all\\-contexts"));
    let out = run(&["man", "nope"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no subcommand 'nope'"), "{}", out.stderr);
}
