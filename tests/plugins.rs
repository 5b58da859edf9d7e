//! The binary as a kubectl plugin (and its krew manifest) and the Helm plugin script.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{root, run};

/// The built binary copied into `dir` under `name`.
fn installed_as(dir: &Path, name: &str) -> PathBuf {
    let bin = dir.join(name);
    crate::util::copy_executable(Path::new(env!("CARGO_BIN_EXE_upgrade-preflight")), &bin);
    bin
}

fn run_bin(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(root())
        .env("KUBECONFIG", "/nonexistent")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn works_installed_as_a_kubectl_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed_as(dir.path(), "kubectl-upgrade_preflight");
    let (code, stdout, stderr) = run_bin(&bin, &["check", "--snapshot", "examples/demo-cluster.yaml"]);
    let direct = run(&["check", "--snapshot", "examples/demo-cluster.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, direct.stdout, "the report does not depend on the name");

    let (code, help, _) = run_bin(&bin, &["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Usage: kubectl upgrade-preflight <COMMAND>"), "{help}");
    assert!(!help.contains("kubectl-upgrade_preflight"), "{help}");
    let (_, help, _) = run_bin(&bin, &["check", "--help"]);
    assert!(help.contains("Usage: kubectl upgrade-preflight check [OPTIONS]"), "{help}");
    let (code, _, stderr) = run_bin(&bin, &["check", "--no-such-flag"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("Usage: kubectl upgrade-preflight check [OPTIONS]"), "{stderr}");
    // Under its own name nothing changes.
    let own = installed_as(dir.path(), "upgrade-preflight");
    let (_, help, _) = run_bin(&own, &["--help"]);
    assert!(help.contains("Usage: upgrade-preflight <COMMAND>"), "{help}");
}

#[test]
fn the_krew_manifest_template_renders_to_a_valid_manifest() {
    let text = std::fs::read_to_string(root().join("deploy/krew/upgrade-preflight.yaml")).unwrap();
    let header: String = text.lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(m["kind"], "Plugin");
    // krew links `kubectl-<name with - as _>`: the name the binary recognises.
    assert_eq!(m["metadata"]["name"], "upgrade-preflight");
    assert_eq!(m["spec"]["version"], "v{{VERSION}}");
    let platforms = m["spec"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 5);
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let (os, arch) = (labels["os"].as_str().unwrap(), labels["arch"].as_str().unwrap());
        let placeholder = format!("{{{{SHA256_{}_{}}}}}", os.to_uppercase(), arch.to_uppercase());
        assert_eq!(p["sha256"], placeholder.as_str());
        assert!(header.contains(&placeholder), "{placeholder} is not documented in the header");
        let uri = p["uri"].as_str().unwrap();
        assert!(uri.contains(&format!("v{{{{VERSION}}}}/upgrade-preflight-{{{{VERSION}}}}-{os}-{arch}.")), "{uri}");
        let exe = if os == "windows" { "upgrade-preflight.exe" } else { "upgrade-preflight" };
        assert_eq!(p["bin"], exe);
        assert_eq!(p["files"][0]["from"], exe);
    }
    // Every placeholder in the body is documented, and substituting them leaves none.
    let body: String = text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut rendered = body.replace("{{VERSION}}", "0.1.0");
    for (i, p) in body.match_indices("{{SHA256_").map(|(i, _)| i).enumerate() {
        let end = body[p..].find("}}").unwrap() + p + 2;
        let placeholder = &body[p..end];
        assert!(header.contains(placeholder), "{placeholder}");
        rendered = rendered.replace(placeholder, &format!("{i:064x}"));
    }
    assert!(!rendered.contains("{{"), "{rendered}");
    let r: Value = serde_saphyr::from_str(&rendered).unwrap();
    assert_eq!(r["spec"]["version"], "v0.1.0");
    for p in r["spec"]["platforms"].as_array().unwrap() {
        let sha = p["sha256"].as_str().unwrap();
        assert!(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()), "{sha}");
    }
}
