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
    assert!(header.contains("{{REPOSITORY}}"));
    let mut rendered = body.replace("{{VERSION}}", "0.1.0").replace("{{REPOSITORY}}", "https://example.org/p");
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

/// A fake `upgrade-preflight` on PATH that records its argv (NUL-separated) and the
/// kubeconfig environment, then exits with `$FAKE_EXIT`.
struct FakeBinary {
    dir: tempfile::TempDir,
}

impl FakeBinary {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        crate::util::write_executable(
            &dir.path().join("bin/upgrade-preflight"),
            b"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$RECORD\"\nprintf '%s' \"${KUBECONFIG-unset}\" > \"$RECORD.kubeconfig\"\nexit \"$FAKE_EXIT\"\n",
        );
        Self { dir }
    }

    /// Runs the plugin script the way Helm does (exec of `$HELM_PLUGIN_DIR/preflight.sh`,
    /// its global flags in the environment); returns its exit code, stderr, and the argv
    /// the fake saw (`None` when it did not run).
    fn helm(&self, args: &[&str], env: &[(&str, &str)], fake_exit: i32) -> (i32, String, Option<Vec<String>>) {
        let record = self.dir.path().join("argv");
        let _ = std::fs::remove_file(&record);
        let path = format!("{}:{}", self.dir.path().join("bin").display(), std::env::var("PATH").unwrap());
        let mut cmd = Command::new(root().join("helm-plugin/preflight.sh"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HELM_PLUGIN_DIR", root().join("helm-plugin"))
            .env("RECORD", &record)
            .env("FAKE_EXIT", fake_exit.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let argv = std::fs::read(&record).ok().map(|b| {
            let s = String::from_utf8(b).unwrap();
            s.strip_suffix('\0').unwrap_or(&s).split('\0').map(ToString::to_string).collect()
        });
        (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap(), argv)
    }

    fn kubeconfig_seen(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("argv.kubeconfig")).unwrap()
    }
}

#[test]
fn helm_plugin_passes_release_values_and_cluster_and_keeps_the_exit_code() {
    let fake = FakeBinary::new();
    let helm_env =
        [("HELM_NAMESPACE", "shop"), ("HELM_KUBECONTEXT", "prod-eu"), ("KUBECONFIG", "/home/u/.kube/prod.yaml")];
    let (code, stderr, argv) =
        fake.helm(&["keep", "0.42.0", "-f", "values.yaml", "-f", "my secrets.yaml"], &helm_env, 1);
    assert_eq!(code, 1, "NO-GO reaches helm: {stderr}");
    assert_eq!(
        argv.unwrap(),
        [
            "check",
            "--target",
            "release:shop/keep=0.42.0",
            "--context",
            "prod-eu",
            "--values",
            "shop/keep=values.yaml",
            "--values",
            "shop/keep=my secrets.yaml",
        ]
    );
    assert_eq!(fake.kubeconfig_seen(), "/home/u/.kube/prod.yaml");

    // -n on the plugin wins; --values=, comma lists, --reuse-values and flags after --.
    let (code, _, argv) = fake.helm(
        &["keep", "0.42.0", "--values=a.yaml,b.yaml", "--reuse-values", "-n", "other", "--", "-o", "markdown"],
        &helm_env,
        3,
    );
    assert_eq!(code, 3, "could not evaluate reaches helm");
    assert_eq!(
        argv.unwrap(),
        [
            "check",
            "--target",
            "release:other/keep=0.42.0",
            "--context",
            "prod-eu",
            "--values",
            "other/keep=a.yaml",
            "--values",
            "other/keep=b.yaml",
            "--reuse-values",
            "-o",
            "markdown",
        ]
    );

    // Without Helm's environment: no namespace, no context, KUBECONFIG untouched.
    let (code, _, argv) = fake.helm(&["keep", "0.42.0"], &[], 0);
    assert_eq!(code, 0);
    assert_eq!(argv.unwrap(), ["check", "--target", "release:keep=0.42.0"]);
    assert_eq!(fake.kubeconfig_seen(), "unset");
}

#[test]
fn helm_plugin_usage_errors_exit_2_without_running_the_check() {
    let fake = FakeBinary::new();
    for args in [
        &["keep"][..],
        &[],
        &["keep", "1.0.0", "extra"],
        &["keep", "1.0.0", "-f"],
        &["keep", "1.0.0", "--bogus"],
        &["shop/keep", "1.0.0"],
    ] {
        let (code, stderr, argv) = fake.helm(args, &[("HELM_NAMESPACE", "shop")], 0);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("usage: helm preflight RELEASE CHART"), "{args:?}: {stderr}");
        assert!(stderr.contains("helm preflight RELEASE CHART_VERSION"), "{args:?}: {stderr}");
        assert_eq!(argv, None, "{args:?}: upgrade-preflight must not run");
    }
    let (code, stderr, _) = fake.helm(&["--help"], &[], 0);
    assert_eq!(code, 2);
    assert!(stderr.contains("-- FLAGS..."), "{stderr}");
}

#[test]
fn helm_plugin_manifest_runs_the_script() {
    let text = std::fs::read_to_string(root().join("helm-plugin/plugin.yaml")).unwrap();
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(m["name"], "preflight");
    assert_eq!(m["command"], "$HELM_PLUGIN_DIR/preflight.sh");
    assert_eq!(m["ignoreFlags"], false, "helm must keep handing -n/--kube-context to the plugin environment");
    let script = root().join("helm-plugin/preflight.sh");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&script).unwrap().permissions());
    assert_ne!(mode & 0o111, 0, "preflight.sh must be executable");
    assert!(std::fs::read_to_string(&script).unwrap().starts_with("#!/bin/sh\n"));
}

#[test]
fn helm_plugin_drives_the_real_binary() {
    // The argv the script builds is one upgrade-preflight accepts: a renamed provider in the
    // values about to be applied is NO-GO (flags after -- select a snapshot instead of a cluster).
    let dir = root().join("tests/fixtures/checks/values-renamed-key");
    let out = Command::new(root().join("helm-plugin/preflight.sh"))
        .args(["keep", "0.1.79", "-f", "values.renamed.yaml", "--", "--snapshot", "fail.provider-renamed.yaml"])
        .args(["-o", "json"])
        .current_dir(&dir)
        .env("UPGRADE_PREFLIGHT", env!("CARGO_BIN_EXE_upgrade-preflight"))
        .env("HELM_NAMESPACE", "keep")
        .env_remove("HELM_KUBECONTEXT")
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(crate::util::finding_ids(&r), ["values-renamed-key"]);
    assert_eq!(r["plan"][0]["component"], "release:keep/keep");
    assert_eq!(r["plan"][0]["target"], "0.1.79");
    let out = Command::new(root().join("helm-plugin/preflight.sh"))
        .args(["keep", "0.1.79", "-f", "values.kept.yaml", "--", "--snapshot", "pass.provider-kept.yaml", "-q"])
        .current_dir(&dir)
        .env("UPGRADE_PREFLIGHT", env!("CARGO_BIN_EXE_upgrade-preflight"))
        .env("HELM_NAMESPACE", "keep")
        .env_remove("HELM_KUBECONTEXT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("GO"));
}
