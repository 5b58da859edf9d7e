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
    assert_eq!(out.stdout, "NO-GO: 10 blocker(s), 4 warning(s), 2 check(s) could not be evaluated\n");
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
    // A long item wraps onto lines indented by four.
    let items = passed.iter().filter(|l| !l.starts_with("    ")).count();
    for line in [
        "  nodes-not-ready (blocker): evaluated 2 Nodes, none matched",
        "  unavailable-workloads (blocker): evaluated 2 Deployments, none matched",
        "  floating-image-tags (blocker): read 1 Pod, 2 Deployments, found nothing",
        "  haraka-pinned-version (warning): Haraka 3.0.5 is within its pin =3.0.5",
        "  rancher-agent-ingress-panic (blocker): Rancher 2.8.5 is not in <2.7.8",
    ] {
        assert!(passed.contains(&line), "{line:?} missing from {passed:#?}");
    }
    // Exactly the evaluated checks without findings: all of them on a healthy cluster.
    let (_, r) = crate::util::check_json(HEALTHY, &[]);
    assert_eq!(items as u64, r["summary"]["evaluated"].as_u64().unwrap());
    // Otherwise the report is unchanged, but for Not applicable listed in full.
    let cut = |t: &str| t[..t.find("Not applicable\n").unwrap()].to_string();
    assert_eq!(cut(&out.stdout.replace(&format!("Passed\n{}\n\n", passed.join("\n")), "")), cut(&plain.stdout));

    // On the demo, checks with findings are not listed as passed; a rule whose required
    // check found nothing says so.
    let out = run(&["check", "--snapshot", DEMO, "-v"]);
    let passed = out.stdout.split("\nPassed\n").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(!passed.contains("unstable-pods") && !passed.contains("rancher-agent-ingress-panic"), "{passed}");
    assert!(passed.contains("  nodes-not-ready (blocker): evaluated 3 Nodes, none matched"), "{passed}");
    // (Wide enough that the item is one line.)
    let out = crate::util::run_env(
        &[
            "check",
            "--snapshot",
            "tests/fixtures/checks/rancher-agent-ingress-panic/pass.agent-v2.7.5-no-lb-address.yaml",
            "-v",
            "--only",
            "rancher-agent-ingress-panic",
        ],
        &[("COLUMNS", "200")],
    );
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
    // Exit codes have a section of their own, no clap "EXTRA"; `help` is no page.
    for page in [&out.stdout, &run(&["man", "check"]).stdout, &run(&["man", "snapshot"]).stdout] {
        assert!(page.contains(".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nGO: "), "{page}");
        assert!(page.contains("\\fB3\\fR\nCould not evaluate"), "{page}");
        let exit = page.find(".SH \"EXIT STATUS\"").unwrap();
        assert!(page.find(".SH VERSION").is_none_or(|v| exit < v), "{page}");
        assert!(!page.contains("EXTRA") && !page.contains("help(1)"), "{page}");
    }
    let help = run(&["man", "help"]);
    assert_eq!(help.code, 2);
    assert!(help.stderr.contains("no man page for 'help' (one of: check, snapshot,"), "{}", help.stderr);
    let out = run(&["man", "check"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(".TH upgrade-preflight-check 1"), "{}", out.stdout);
    assert!(out.stdout.contains("\\-\\-snapshot") && out.stdout.contains("\\-\\-all\\-contexts"));
    let out = run(&["man", "nope"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no man page for 'nope'"), "{}", out.stderr);
}

#[test]
fn tables_fit_columns_and_never_break_a_word_or_an_object_name() {
    let (_, json) = crate::util::check_json(DEMO, &[]);
    // Every word a table may hold whole: object names, ids, and each word of the messages.
    let mut words: Vec<String> = Vec::new();
    for f in json["findings"].as_array().unwrap() {
        let o = &f["objects"][0];
        let ns = o["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default();
        words.push(format!("{ns}{}", o["name"].as_str().unwrap()));
        words.push(f["checkId"].as_str().unwrap().to_string());
    }
    for width in ["200", "120", "100", "80", "60", "40"] {
        let out = crate::util::run_env(&["check", "--snapshot", DEMO], &[("COLUMNS", width)]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let w: usize = width.parse().unwrap();
        for line in out.stdout.lines() {
            // The first line names the source and the verdict line stays one line (scripts
            // grep it); any other line may only be wider when one word is.
            if line.starts_with("upgrade-preflight ") || line.starts_with("Verdict: ") {
                continue;
            }
            assert!(
                line.chars().count() <= w || line.split_whitespace().count() == 1,
                "COLUMNS={width}: line of {} columns:\n{line}\n{}",
                line.chars().count(),
                out.stdout
            );
        }
        let tokens: std::collections::BTreeSet<&str> =
            out.stdout.split(|c: char| c.is_whitespace() || "│┆".contains(c)).collect();
        for word in &words {
            assert!(tokens.contains(word.as_str()), "COLUMNS={width}: {word} is not whole:\n{}", out.stdout);
        }
    }
    // Wide enough, the findings are a table; narrow, each finding is a block headed by
    // severity and check id.
    let wide = crate::util::run_env(&["check", "--snapshot", DEMO], &[("COLUMNS", "200")]).stdout;
    assert!(wide.contains("│ SEVERITY ┆ CHECK"), "{wide}");
    let narrow = crate::util::run_env(&["check", "--snapshot", DEMO], &[("COLUMNS", "80")]).stdout;
    assert!(narrow.contains("\nBLOCKER  missing-references\n  OBJECT   Deployment keep/keep-backend\n"), "{narrow}");
    // `list` too.
    let list = crate::util::run_env(&["list"], &[("COLUMNS", "70")]).stdout;
    assert!(list.lines().all(|l| l.chars().count() <= 70), "{list}");
    assert!(list.contains("harvester-1-4-managed-chart-drift"), "{list}");
}

#[test]
fn not_applicable_is_grouped_by_reason_and_listed_in_full_with_v_and_json() {
    let healthy = "tests/fixtures/clusters/healthy.yaml";
    let out = crate::util::run(&["check", "--snapshot", healthy]);
    let na = &out.stdout[out.stdout.find("Not applicable\n").unwrap()..];
    assert!(
        na.contains(
            "\n  6 Harvester checks: runs only when an upgrade of harvester is planned (--target harvester=VERSION)\n"
        ),
        "{na}"
    );
    assert!(na.contains("\n  keep-provider-rename-crash (warning): Keep (keep-api) not detected\n"), "{na}");
    assert!(!na.contains("harvester-vm-backups-running"), "{na}");
    let (_, json) = crate::util::check_json(healthy, &[]);
    let ids: Vec<&str> =
        json["notApplicable"].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap()).collect();
    // Every known-bad rule of a component the cluster does not run is not applicable, each
    // listed, beside the 7 platform checks and
    // deprecated-api-requests (a snapshot without API server metrics).
    let catalog = upgrade_preflight::catalog::Catalog::load(&upgrade_preflight::catalog::Sources::default()).unwrap();
    let absent: Vec<&str> = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "not-detected")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let known_bad: Vec<&str> =
        absent.iter().flat_map(|c| catalog.matrices[*c].known_bad.iter().map(|k| k.id.as_str())).collect();
    assert!(known_bad.len() >= 10, "{known_bad:?}");
    for id in &known_bad {
        assert!(ids.contains(id), "{id} not in {ids:?}");
    }
    assert_eq!(ids.len(), 8 + known_bad.len(), "{ids:?}");
    let verbose = crate::util::run(&["check", "--snapshot", healthy, "-v"]).stdout;
    for id in ids {
        assert!(verbose.contains(&format!("\n  {id} (")), "{id}: {verbose}");
    }
}

#[test]
fn version_names_the_commit_and_the_date_of_the_compiled_in_data() {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).current_dir(crate::util::root()).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let out = run(&["--version"]);
    assert_eq!(out.code, 0);
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let date = git(&["log", "-1", "--format=%cs", "--", "matrices", "checks"]);
    assert_eq!(commit.len(), 12, "tests run from a git checkout");
    assert_eq!(
        out.stdout,
        format!("upgrade-preflight {} (commit {commit}, matrices {date})\n", env!("CARGO_PKG_VERSION"))
    );
}
