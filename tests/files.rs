//! Files we write (`snapshot`'s file, `check --output-file`): checked before collecting,
//! replaced atomically, snapshots `0600`, never through a symlink, overwrites said.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};

use crate::live::start;
use crate::util::run;

const HEALTHY: &str = "tests/fixtures/clusters/healthy.yaml";

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}

#[test]
fn a_destination_that_cannot_be_written_fails_before_collecting() {
    let fake = start(HEALTHY);
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(dir.path());
    let kc = kc.to_str().unwrap();
    let target = dir.path().join("target.json");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let missing = dir.path().join("no-such-dir/snap.json");
    let cases = [
        (missing.to_str().unwrap().to_string(), "No such file or directory"),
        (link.to_str().unwrap().to_string(), "it is a symbolic link"),
        (dir.path().to_str().unwrap().to_string(), "it is a directory"),
    ];
    for (dest, why) in &cases {
        for args in [
            vec!["snapshot", "--kubeconfig", kc, "--output-file", dest.as_str()],
            vec!["check", "--kubeconfig", kc, "--output-file", dest.as_str()],
        ] {
            let out = run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(
                out.stderr.contains(&format!("cannot write {dest}: ")) && out.stderr.contains(why),
                "{}",
                out.stderr
            );
            assert!(
                fake.requests().is_empty(),
                "{args:?}: the cluster was contacted before the destination was checked"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me", "the link's target is untouched");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(
        entries(dir.path()),
        [
            "kubeconfig-".to_string() + &fake.addr().port().to_string() + ".yaml",
            "link.json".into(),
            "target.json".into()
        ]
    );
}

#[test]
fn snapshots_are_private_replaced_whole_and_overwrites_are_said() {
    let fake = start(HEALTHY);
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(dir.path());
    let kc = kc.to_str().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let snap = out_dir.join("snap.json");
    let snap_s = snap.to_str().unwrap();
    let out = run(&["snapshot", "--kubeconfig", kc, "--output-file", snap_s]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("overwriting"), "{}", out.stderr);
    let mode = std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshot mode {mode:o}");
    // Again: the file is replaced (a new inode, not truncated in place) and that is said.
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o644)).unwrap();
    let kept = out_dir.join("hard-link-to-old.json");
    std::fs::hard_link(&snap, &kept).unwrap();
    std::fs::write(&kept, "old contents").unwrap();
    let out = run(&["snapshot", "--kubeconfig", kc, "--output-file", snap_s]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, format!("upgrade-preflight: overwriting {snap_s}\n"));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "old contents", "written to a new file, then renamed");
    assert!(std::fs::read_to_string(&snap).unwrap().contains("SnapshotInfo"));
    assert_eq!(std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777, 0o600);

    // Reports: written whole, overwrite said, no temporary file left behind.
    let report = out_dir.join("report.json");
    let report_s = report.to_str().unwrap();
    for (i, expect_overwrite) in [(0, false), (1, true)] {
        let out = run(&["check", "--snapshot", snap_s, "-o", "json", "--output-file", report_s]);
        assert_eq!(out.code, 0, "run {i}: {}", out.stderr);
        assert_eq!(out.stderr.contains("overwriting"), expect_overwrite, "run {i}: {}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(v["verdict"], "GO");
    }
    assert_eq!(entries(&out_dir), ["hard-link-to-old.json", "report.json", "snap.json"]);
    // A failed run leaves no temporary file either.
    let out = run(&["check", "--snapshot", "/nonexistent.yaml", "--output-file", report_s]);
    assert_eq!(out.code, 3);
    assert_eq!(entries(&out_dir), ["hard-link-to-old.json", "report.json", "snap.json"]);
    // A device is written in place, never replaced.
    let out = run(&["check", "--snapshot", snap_s, "--output-file", "/dev/null"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
}
