//! The release recipe (`scripts/dist`) runs here: it packages the source, the platform archive
//! with the kubectl plugin copy, the Helm plugin archive, checksums and a krew manifest whose
//! checksums and URLs are real. The compile step is the one thing replaced (by the binary this
//! test run built, `DIST_BINARY`); README "Releasing" gives the figures of a full run. Also:
//! the image name lives in Cargo.toml only, and everything that names it agrees.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::root;

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn tar_list(path: &Path) -> Vec<String> {
    let out = Command::new("tar").arg("-tzf").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

/// `key = "value"` of Cargo.toml (the first).
fn manifest(key: &str) -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{key} = \""))).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn dist_builds_archives_checksums_and_a_krew_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let run = Command::new(root().join("scripts/dist"))
        .env("DIST_DIR", &out)
        .env("DIST_ALLOW_DIRTY", "1")
        .env("DIST_BINARY", env!("CARGO_BIN_EXE_upgrade-preflight"))
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let v = env!("CARGO_PKG_VERSION");
    // The host's platform, as the script names it.
    let os = if std::env::consts::OS == "macos" { "darwin" } else { std::env::consts::OS };
    let arch = if std::env::consts::ARCH == "aarch64" { "arm64" } else { "amd64" };
    let platform = format!("{os}-{arch}");
    let archive = out.join(format!("upgrade-preflight-{v}-{platform}.tar.gz"));
    let plugin = out.join(format!("helm-preflight-{v}.tar.gz"));
    let krate = out.join(format!("upgrade-preflight-{v}.crate"));

    // The platform archive: both names of the binary and the licence, at the top level.
    assert_eq!(
        tar_list(&archive),
        ["upgrade-preflight", "kubectl-upgrade_preflight", "LICENSE", "README.md", "CHANGELOG.md"]
    );
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&x).status().unwrap().success());
    let version = Command::new(x.join("kubectl-upgrade_preflight")).arg("--version").output().unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    assert!(version.starts_with(&format!("kubectl upgrade-preflight {v} (commit ")), "{version}");
    assert_eq!(std::fs::read(x.join("LICENSE")).unwrap(), std::fs::read(root().join("LICENSE")).unwrap());

    // The source package builds without .git: it carries the data, the lock file and the commit.
    let files = tar_list(&krate);
    for f in [
        "Cargo.lock",
        "build.rs",
        "LICENSE",
        "matrices/rancher.yaml",
        "checks/nodes-not-ready.yaml",
        ".cargo_vcs_info.json",
    ] {
        assert!(files.contains(&format!("upgrade-preflight-{v}/{f}")), "{f} missing from the crate: {files:?}");
    }
    assert!(
        !files.iter().any(|f| f.contains("/.git/") || f.contains("/tests/") || f.contains("/target/")),
        "{files:?}"
    );

    // The Helm plugin, with this version.
    assert_eq!(
        tar_list(&plugin),
        ["preflight/", "preflight/LICENSE", "preflight/plugin.yaml", "preflight/preflight.sh"]
    );
    let y = dir.path().join("y");
    std::fs::create_dir(&y).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&plugin).arg("-C").arg(&y).status().unwrap().success());
    let p: Value = serde_saphyr::from_str(&std::fs::read_to_string(y.join("preflight/plugin.yaml")).unwrap()).unwrap();
    assert_eq!(p["version"], v);

    // Checksums: one file each and SHA256SUMS, all matching.
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for f in [&archive, &plugin, &krate] {
        let name = f.file_name().unwrap().to_str().unwrap();
        let line = format!("{}  {name}\n", sha256(f));
        assert_eq!(std::fs::read_to_string(out.join(format!("{name}.sha256"))).unwrap(), line);
        assert!(sums.contains(&line), "{sums}");
    }

    // The krew manifest: this version, the built platform with its real checksum and a URL
    // from Cargo.toml's repository; no placeholder left, no platform without an archive.
    let text = std::fs::read_to_string(out.join("upgrade-preflight.yaml")).unwrap();
    assert!(!text.contains("{{"), "{text}");
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(m["spec"]["version"], format!("v{v}"));
    assert_eq!(m["spec"]["homepage"], manifest("repository"));
    let platforms = m["spec"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 1, "{text}");
    assert_eq!(platforms[0]["selector"]["matchLabels"], serde_json::json!({"os": os, "arch": arch}));
    assert_eq!(platforms[0]["sha256"], sha256(&archive));
    let docker = String::from_utf8(run.stdout).unwrap();
    assert!(docker.contains(&format!("docker build -t {}:{v} .", manifest("image"))), "{docker}");
    assert_eq!(
        platforms[0]["uri"],
        format!("{}/releases/download/v{v}/upgrade-preflight-{v}-{platform}.tar.gz", manifest("repository"))
    );
}

#[test]
fn the_image_name_is_in_one_place_and_everything_takes_it() {
    let image = manifest("image");
    let v = env!("CARGO_PKG_VERSION");
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    // The Job pins this release's image, the hook chart defaults to it (tag: the appVersion).
    assert!(read("deploy/job.yaml").contains(&format!("          image: {image}:{v}\n")));
    let values: Value = serde_saphyr::from_str(&read("deploy/helm-hook/values.yaml")).unwrap();
    assert_eq!(values["image"]["repository"], image.as_str());
    let chart: Value = serde_saphyr::from_str(&read("deploy/helm-hook/Chart.yaml")).unwrap();
    assert_eq!(chart["appVersion"], v);
    // The Dockerfile runs the binary as the Job's non-root user, without a shell; it does not
    // name the image (the build command scripts/dist prints does, from Cargo.toml).
    let docker = read("Dockerfile");
    assert!(!docker.contains(&image), "{docker}");
    assert!(docker.contains("\nUSER 65532:65532\n"), "{docker}");
    assert!(docker.contains("\nENTRYPOINT [\"/upgrade-preflight\"]\n"), "{docker}");
    let last_from = docker.lines().rfind(|l| l.starts_with("FROM ")).unwrap();
    assert!(last_from.contains("distroless") || last_from == "FROM scratch", "no shell in the image: {last_from}");
}
