//! Bad matrix and check files: exit 2, `file:line:column: error: …`, every problem at once.

use crate::util::{run, temp_tree};

const GOOD_CHECK: &str = "id: extra\ntitle: Extra\nseverity: warning\nresources:\n  - {api-version: v1, kind: Node}\nrule:\n  cel: 'false'\nremediation: none\n";

fn validate_checks(files: &[(&str, &str)]) -> (i32, String, tempfile::TempDir) {
    let dir = temp_tree(files);
    let out = run(&["validate", "--checks", dir.path().to_str().unwrap()]);
    assert!(out.stdout.is_empty(), "nothing on stdout on failure: {}", out.stdout);
    (out.code, out.stderr, dir)
}

fn expect(stderr: &str, dir: &tempfile::TempDir, file: &str, line: u32, col: u32, what: &str) {
    let prefix = format!("{}:{line}:{col}: error: ", dir.path().join(file).display());
    assert!(
        stderr.lines().any(|l| l.starts_with(&prefix) && l.contains(what)),
        "expected `{prefix}…{what}…` in:\n{stderr}"
    );
}

#[test]
fn builtin_catalog_is_valid() {
    let out = run(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let matrices = std::fs::read_dir(crate::util::root().join("matrices")).unwrap().count();
    assert!(out.stdout.starts_with(&format!("ok: {matrices} matrices")), "{}", out.stdout);
}

/// Every bundled matrix names the source its data was checked against and when, so that a
/// run long after that date can say the data may be stale.
#[test]
fn every_bundled_matrix_has_a_source_and_a_date() {
    let catalog = upgrade_preflight::catalog::Catalog::load(&upgrade_preflight::catalog::Sources::default()).unwrap();
    assert!(!catalog.matrices.is_empty());
    for m in catalog.matrices.values() {
        let source = m.source.as_deref().unwrap_or_else(|| panic!("{}: no source", m.origin));
        assert!(source.starts_with("https://"), "{}: source {source}", m.origin);
        let (days, _) = m.last_verified.as_ref().unwrap_or_else(|| panic!("{}: no last-verified", m.origin));
        // Not before the project existed, not in the future of this build's machine.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
        assert!((20_000..=i64::try_from(now).unwrap()).contains(days), "{}: last-verified {days}", m.origin);
    }
}

#[test]
fn a_bad_last_verified_date_is_an_error_with_its_line() {
    let matrix = "id: extra\nname: Extra\nlast-verified: \"2026-02-30\"\ndetect:\n  - image: {repository: x/extra}\n";
    let dir = temp_tree(&[("extra.yaml", matrix)]);
    let out = run(&["validate", "--matrices", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    expect(&out.stderr, &dir, "extra.yaml", 3, 16, "last-verified: '2026-02-30' is not a date");
}

#[test]
fn a_version_suffix_is_letters_and_digits_and_nothing_else() {
    let bad = "id: extra\nname: Extra\ndetect:\n  - api-server: {suffix: \"rke2+\"}\n";
    let typo = "id: typo\nname: Typo\ndetect:\n  - kubelet: {sufix: rke2}\n";
    let dir = temp_tree(&[("extra.yaml", bad), ("typo.yaml", typo)]);
    let out = run(&["validate", "--matrices", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    expect(&out.stderr, &dir, "extra.yaml", 4, 5, "suffix 'rke2+' must be letters and digits");
    expect(&out.stderr, &dir, "typo.yaml", 4, 15, "unknown field `sufix`");
    let good = "id: extra\nname: Extra\ndetect:\n  - api-server: {suffix: rke2}\n  - kubelet: {}\n";
    let dir = temp_tree(&[("extra.yaml", good)]);
    let out = run(&["validate", "--matrices", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_good_extra_check_validates() {
    let (code, stderr, _d) = {
        let dir = temp_tree(&[("extra.yaml", GOOD_CHECK)]);
        let out = run(&["validate", "--checks", dir.path().to_str().unwrap()]);
        (out.code, out.stderr + &out.stdout, dir)
    };
    assert_eq!(code, 0, "{stderr}");
    // The extra check is counted on top of the built-ins, and nothing is reported.
    let builtins = std::fs::read_dir(crate::util::root().join("checks")).unwrap().count();
    assert!(stderr.contains(&format!(" {} checks", builtins + 1)), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn unknown_field_names_file_line_and_column() {
    let text = GOOD_CHECK.replace("remediation: none\n", "remediation: none\nsevrity: blocker\n");
    let (code, stderr, dir) = validate_checks(&[("extra.yaml", &text)]);
    assert_eq!(code, 2);
    expect(&stderr, &dir, "extra.yaml", 9, 1, "unknown field `sevrity`");
}

#[test]
fn bad_cel_is_reported_at_the_expression() {
    let text = GOOD_CHECK.replace("cel: 'false'", "cel: 'object.spec +'");
    let (code, stderr, dir) = validate_checks(&[("extra.yaml", &text)]);
    assert_eq!(code, 2);
    expect(&stderr, &dir, "extra.yaml", 7, 8, "rule.cel: invalid CEL");
}

#[test]
fn bad_severity_and_yaml_syntax() {
    let (code, stderr, dir) = validate_checks(&[
        ("a.yaml", &GOOD_CHECK.replace("id: extra", "id: a").replace("severity: warning", "severity: fatal")),
        ("b.yaml", "id: b\ntitle: [unclosed\n"),
    ]);
    assert_eq!(code, 2);
    // Both files are reported in one run.
    expect(&stderr, &dir, "a.yaml", 3, 11, "unknown variant `fatal`");
    assert!(stderr.contains("b.yaml:"), "{stderr}");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

#[test]
fn id_must_match_file_and_references_must_exist() {
    let text = GOOD_CHECK.replace("rule:", "component: nonexistent\nrule:");
    let (code, stderr, dir) = validate_checks(&[("other-name.yaml", &text)]);
    assert_eq!(code, 2);
    expect(&stderr, &dir, "other-name.yaml", 1, 5, "id 'extra' must equal the file name 'other-name'");
    // Semantic errors are collected alongside, not after a fix-and-rerun cycle.
    expect(&stderr, &dir, "other-name.yaml", 6, 12, "unknown component 'nonexistent'");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

#[test]
fn unknown_component_lists_the_known_ones() {
    let text = GOOD_CHECK.replace("rule:", "component: nonexistent\nrule:");
    let (code, stderr, dir) = validate_checks(&[("extra.yaml", &text)]);
    assert_eq!(code, 2);
    expect(
        &stderr,
        &dir,
        "extra.yaml",
        6,
        12,
        &format!("unknown component 'nonexistent' (known: {})", crate::util::builtin_components()),
    );
}

#[test]
fn unknown_builtin_and_bad_params() {
    let (code, stderr, dir) = validate_checks(&[
        ("a.yaml", "id: a\ntitle: A\nseverity: info\nrule:\n  builtin: nope\nremediation: x\n"),
        (
            "b.yaml",
            "id: b\ntitle: B\nseverity: info\nrule:\n  builtin: mounted-config-file\n  params: {component: haraka, range: '>=3.x', file: c}\nremediation: x\n",
        ),
    ]);
    assert_eq!(code, 2);
    expect(&stderr, &dir, "a.yaml", 5, 12, "unknown built-in 'nope' (known: missing-references");
    expect(&stderr, &dir, "b.yaml", 5, 12, "params.range: invalid version range '>=3.x'");
}

#[test]
fn duplicate_ids_across_user_directories() {
    let one = temp_tree(&[("extra.yaml", GOOD_CHECK)]);
    let two = temp_tree(&[("extra.yaml", GOOD_CHECK)]);
    let out = run(&["validate", "--checks", one.path().to_str().unwrap(), "--checks", two.path().to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("duplicate id 'extra'"), "{}", out.stderr);
}

#[test]
fn bad_matrix_ranges_and_label_selectors() {
    let dir = temp_tree(&[
        (
            "m/demo.yaml",
            "id: demo\nname: Demo\ndetect:\n  - image: {repository: 'x/demo'}\nknown-bad:\n  - id: demo-bad\n    range: '<2.x'\n    severity: blocker\n    message: m\n    remediation: r\n",
        ),
        (
            "c/sel.yaml",
            "id: sel\ntitle: S\nseverity: info\nresources:\n  - {api-version: v1, kind: Pod, label-selector: 'a=b,,c'}\nrule:\n  cel: 'true'\nremediation: x\n",
        ),
    ]);
    let out = run(&[
        "validate",
        "--matrices",
        dir.path().join("m").to_str().unwrap(),
        "--checks",
        dir.path().join("c").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    expect(&out.stderr, &dir, "m/demo.yaml", 7, 12, "known-bad.range: invalid version range '<2.x'");
    expect(&out.stderr, &dir, "c/sel.yaml", 5, 50, "label-selector: empty requirement");
}

#[test]
fn a_user_check_overrides_the_builtin_with_the_same_id() {
    let text = "id: nodes-cordoned\ntitle: Cordoned nodes block\nseverity: blocker\nresources:\n  - {api-version: v1, kind: Node}\nrule:\n  cel: has(object.spec) && has(object.spec.unschedulable) && object.spec.unschedulable\nremediation: uncordon\n";
    let dir = temp_tree(&[("nodes-cordoned.yaml", text)]);
    let snap = temp_tree(&[(
        "s.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {unschedulable: true}\nstatus: {conditions: [{type: Ready, status: 'True'}]}\n",
    )]);
    let snap_path = snap.path().join("s.yaml");
    let base = run(&["check", "--snapshot", snap_path.to_str().unwrap()]);
    assert_eq!(base.code, 0, "built-in: cordoned is a warning\n{}", base.stdout);
    let over = run(&["check", "--snapshot", snap_path.to_str().unwrap(), "--checks", dir.path().to_str().unwrap()]);
    assert_eq!(over.code, 1, "override: cordoned is a blocker\n{}", over.stdout);
}

#[test]
fn invalid_data_files_stop_check_with_exit_2() {
    let dir = temp_tree(&[("extra.yaml", "id: extra\n")]);
    let out =
        run(&["check", "--snapshot", "tests/fixtures/clusters/healthy.yaml", "--checks", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing field"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn mounted_config_file_params_must_name_a_known_component() {
    let text = "id: extra\ntitle: Extra\nseverity: warning\nrule:\n  builtin: mounted-config-file\n  params: {component: nonexistent, range: '>=1.0.0', file: a.ini}\nremediation: none\n";
    let (code, stderr, dir) = validate_checks(&[("extra.yaml", text)]);
    assert_eq!(code, 2, "{stderr}");
    expect(&stderr, &dir, "extra.yaml", 1, 5, "unknown component 'nonexistent' (known: ");
}

#[test]
fn every_structural_error_of_a_file_is_reported_in_one_run() {
    // Three mistakes in one file: a misspelt key, a bad severity, a misspelt nested key.
    let text = "id: extra\ntitle: Extra\nseverity: fatal\nresources:\n  - {api-version: v1, kind: Node}\nrule:\n  cel: 'false'\n  mesage: x\nremediation: none\nsevrity: blocker\n";
    let (code, stderr, dir) = validate_checks(&[("extra.yaml", text)]);
    assert_eq!(code, 2, "{stderr}");
    expect(&stderr, &dir, "extra.yaml", 3, 11, "unknown variant `fatal`");
    expect(&stderr, &dir, "extra.yaml", 8, 3, "unknown field `mesage`");
    expect(&stderr, &dir, "extra.yaml", 10, 1, "unknown field `sevrity`");
    // Setting `severity: fatal` aside leaves severity missing: that is not reported again.
    assert!(!stderr.contains("missing field `severity`"), "{stderr}");
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

#[test]
fn a_syntax_error_stops_the_file_at_one_report() {
    let text = "id: extra\ntitle: [unclosed\nseverity: warning\nsevrity: x\n";
    let (code, stderr, _dir) = validate_checks(&[("extra.yaml", text)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("1 problem(s)"), "guesses after a syntax error are not reported: {stderr}");
}
