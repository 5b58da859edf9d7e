//! Files we write (`snapshot`'s file, `check --output-file`): checked before any collecting,
//! written to a temporary file in the same directory and renamed into place, never through a
//! symlink at the final component; snapshots are created `0600`; overwriting an existing
//! file is allowed (as kubectl does) and said on stderr. A device such as `/dev/null` or
//! `/dev/stdout` is written in place (renaming onto it would replace the device).
//!
//! Layer: commands. File I/O, and the one stderr line that says an existing file is replaced.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A destination checked up front; [`Destination::commit`] writes it.
pub(super) struct Destination {
    path: PathBuf,
    target: Target,
}

enum Target {
    /// A temporary file beside `path`, renamed onto it on commit.
    Temp { tmp: PathBuf, file: Option<File>, overwrites: bool },
    /// An existing device or pipe, written in place.
    Device,
}

impl Destination {
    /// Checks that `path` can be written (exit 2 otherwise, before anything is collected) and
    /// creates the temporary file. `private` creates it `0600` (snapshots).
    pub(super) fn prepare(path: &Path, private: bool) -> Result<Self, String> {
        let shown = path.display();
        let existing = match std::fs::symlink_metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot write {shown}: {e}")),
        };
        if let Some(m) = &existing {
            let t = m.file_type();
            if t.is_symlink() {
                return Err(format!("cannot write {shown}: it is a symbolic link (give the link's target instead)"));
            }
            if t.is_dir() {
                return Err(format!("cannot write {shown}: it is a directory"));
            }
            if !t.is_file() {
                // A device or a pipe: open it now, so a problem shows before collecting.
                OpenOptions::new().write(true).open(path).map_err(|e| format!("cannot write {shown}: {e}"))?;
                return Ok(Self { path: path.to_path_buf(), target: Target::Device });
            }
        }
        let name = path.file_name().ok_or_else(|| format!("cannot write {shown}: not a file name"))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(".{}.{}-{stamp}.tmp", name.to_string_lossy(), std::process::id()));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(if private { 0o600 } else { 0o666 });
        }
        #[cfg(not(unix))]
        let _ = private;
        let file = opts.open(&tmp).map_err(|e| format!("cannot write {shown}: {e}"))?;
        Ok(Self {
            path: path.to_path_buf(),
            target: Target::Temp { tmp, file: Some(file), overwrites: existing.is_some() },
        })
    }

    /// The destination as given.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether committing replaces an existing file.
    pub(super) fn overwrites(&self) -> bool {
        matches!(self.target, Target::Temp { overwrites: true, .. })
    }

    /// Writes `text` and puts it in place.
    pub(super) fn commit(mut self, text: &str) -> Result<(), String> {
        let shown = self.path.display().to_string();
        match &mut self.target {
            Target::Device => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .map_err(|e| format!("cannot write {shown}: {e}"))?;
                f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {shown}: {e}"))
            }
            Target::Temp { tmp, file, .. } => {
                // `file` is only taken here, and `commit` consumes `self`.
                let Some(mut f) = file.take() else { return Err(format!("cannot write {shown}: already written")) };
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| format!("cannot write {shown}: {e}"))?;
                drop(f);
                // The final component may have become a symlink since `prepare`: rename
                // replaces the link itself, never what it points to.
                std::fs::rename(&*tmp, &self.path).map_err(|e| format!("cannot write {shown}: {e}"))?;
                // Renamed: nothing left for `drop` to remove.
                *tmp = PathBuf::new();
                Ok(())
            }
        }
    }
}

/// Writes a prepared destination, saying on stderr when it replaces an existing file.
pub(super) fn write_file(dest: Destination, text: &str) -> Result<(), String> {
    if dest.overwrites() {
        super::eprint(&format!("overwriting {}", dest.path().display()));
    }
    dest.commit(text)
}

impl Drop for Destination {
    fn drop(&mut self) {
        // A run that ends without writing leaves no temporary file behind.
        if let Target::Temp { tmp, .. } = &self.target
            && !tmp.as_os_str().is_empty()
        {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
