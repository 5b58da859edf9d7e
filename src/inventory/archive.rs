//! Snapshot archives read in place: `.tar.gz`/`.tgz`, `.tar` and `.zip` (a troubleshoot
//! support bundle, sonobuoy results, a Harvester support-bundle-kit zip).
//!
//! Archives are untrusted: the compressed file is bounded by the snapshot file limit, the
//! inflated contents together by the same limit (a gzip or zip bomb stops there), and the
//! number of entries by [`MAX_ENTRIES`]. Only regular files are returned; links, devices
//! and directories are not followed or created, and nothing is written to disk.
//!
//! Layer: inventory. Imports the ground layer only.

use std::io::Read;

/// Most entries read from one archive (a support bundle has a few thousand).
pub const MAX_ENTRIES: usize = 200_000;

/// One regular file of an archive: its path inside the archive and its bytes.
pub type Entry = (String, Vec<u8>);

/// The kind of archive a file is, from its first bytes; `None` when it is not one.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("tar.gz")
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some("zip")
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some("tar")
    } else {
        None
    }
}

/// Reads every regular file of the archive in `bytes` (of kind `kind`, from [`sniff`]);
/// `max_bytes` bounds the inflated total. `Err` says what is wrong, in words.
pub fn read(kind: &str, bytes: &[u8], max_bytes: u64) -> Result<Vec<Entry>, String> {
    match kind {
        "tar.gz" => read_tar(&gunzip(bytes, max_bytes)?),
        "tar" => read_tar(bytes),
        "zip" => read_zip(bytes, max_bytes),
        other => Err(format!("not a supported archive ({other})")),
    }
}

/// The inflated contents of the gzip data in `bytes`, at most `max_bytes` of them.
pub fn gunzip(bytes: &[u8], max_bytes: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decompress the gzip file: {e}"))?;
    if u64::try_from(out.len()).map_or(true, |n| n > max_bytes) {
        return Err(inflated_too_large(max_bytes));
    }
    Ok(out)
}

/// True when `bytes` start like a tar archive: a header block whose checksum is right (any
/// tar format, also the old one without the `ustar` magic), or the all-zero block that ends
/// an empty archive. A gzipped dump (`x.json.gz`) is not one.
#[must_use]
pub fn is_tar(bytes: &[u8]) -> bool {
    let Some(h) = bytes.get(..512) else { return false };
    if h.iter().all(|&b| b == 0) {
        return true;
    }
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    octal(&h[148..156]).is_some_and(|c| c == sum)
}

fn inflated_too_large(max: u64) -> String {
    format!(
        "the file inflates to more than the {} snapshot file limit (raise it with --max-snapshot-mib or {})",
        crate::limits::human_bytes(max),
        crate::limits::ENV_MAX_SNAPSHOT_MIB
    )
}

fn too_many_entries() -> String {
    format!("the archive has more than {MAX_ENTRIES} entries; a fixed limit")
}

/// A POSIX (ustar/GNU/pax) tar stream: 512-byte headers, each followed by its data.
fn read_tar(tar: &[u8]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    let mut entries = 0usize;
    while pos + 512 <= tar.len() {
        let h = &tar[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(too_many_entries());
        }
        let size = octal(&h[124..136]).ok_or_else(|| format!("damaged tar header at byte {pos}"))?;
        let size = usize::try_from(size).map_err(|_| format!("damaged tar header at byte {pos}"))?;
        let start = pos + 512;
        let end = start.checked_add(size).filter(|&e| e <= tar.len()).ok_or("the tar archive is truncated")?;
        let data = &tar[start..end];
        let typeflag = h[156];
        let mut name = cstr(&h[0..100]);
        let prefix = cstr(&h[345..500]);
        if &h[257..262] == b"ustar" && !prefix.is_empty() && h[257 + 5] != b' ' {
            name = format!("{prefix}/{name}");
        }
        match typeflag {
            // GNU long name: the next entry's name is this entry's data.
            b'L' => long_name = Some(cstr(data)),
            // pax headers: only `path` matters here.
            b'x' => {
                long_name = pax_path(data).or(long_name);
            }
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or(name);
                out.push((clean(&name), data.to_vec()));
            }
            _ => long_name = None,
        }
        pos = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

fn octal(field: &[u8]) -> Option<u64> {
    // GNU base-256 for sizes over 8 GiB: far over any limit here, refuse it.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let s: String = field.iter().take_while(|&&b| b != 0).map(|&b| b as char).collect();
    let s = s.trim();
    if s.is_empty() { Some(0) } else { u64::from_str_radix(s, 8).ok() }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|l| l.split_once(' ').and_then(|(_, kv)| kv.strip_prefix("path=")).map(ToString::to_string))
}

/// `./a/b` → `a/b`; `..` components are dropped (nothing is extracted, but names are shown).
fn clean(name: &str) -> String {
    name.split('/').filter(|c| !c.is_empty() && *c != "." && *c != "..").collect::<Vec<_>>().join("/")
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2).map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 4).and_then(|s| usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok())
}

/// A zip file, read through its central directory; entries stored or deflated.
fn read_zip(zip: &[u8], max_bytes: u64) -> Result<Vec<Entry>, String> {
    let damaged = || "the zip archive is damaged (no readable central directory)".to_string();
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let from = zip.len().saturating_sub(65_557);
    let eocd = (from..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(damaged)?;
    let count = u16_at(zip, eocd + 10).ok_or_else(damaged)?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(damaged)?;
    if count > MAX_ENTRIES {
        return Err(too_many_entries());
    }
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for _ in 0..count {
        if !zip.get(at..).is_some_and(|s| s.starts_with(b"PK\x01\x02")) {
            return Err(damaged());
        }
        let method = u16_at(zip, at + 10).ok_or_else(damaged)?;
        let csize = u32_at(zip, at + 20).ok_or_else(damaged)?;
        let usize_ = u32_at(zip, at + 24).ok_or_else(damaged)?;
        let nlen = u16_at(zip, at + 28).ok_or_else(damaged)?;
        let elen = u16_at(zip, at + 30).ok_or_else(damaged)?;
        let clen = u16_at(zip, at + 32).ok_or_else(damaged)?;
        let local = u32_at(zip, at + 42).ok_or_else(damaged)?;
        let name =
            zip.get(at + 46..at + 46 + nlen).map(|n| String::from_utf8_lossy(n).into_owned()).ok_or_else(damaged)?;
        at += 46 + nlen + elen + clen;
        if name.ends_with('/') {
            continue;
        }
        if !zip.get(local..).is_some_and(|s| s.starts_with(b"PK\x03\x04")) {
            return Err(damaged());
        }
        let lnlen = u16_at(zip, local + 26).ok_or_else(damaged)?;
        let lelen = u16_at(zip, local + 28).ok_or_else(damaged)?;
        let start = local + 30 + lnlen + lelen;
        let data = zip.get(start..start.saturating_add(csize)).ok_or_else(damaged)?;
        let room = max_bytes.saturating_sub(total);
        let bytes = match method {
            0 => data.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(usize_.min(1 << 20));
                flate2::read::DeflateDecoder::new(data)
                    .take(room.saturating_add(1))
                    .read_to_end(&mut v)
                    .map_err(|e| format!("{name}: cannot decompress: {e}"))?;
                // The declared size is only a hint: keep what was inflated, not what was
                // reserved, or many entries declaring 1 MiB each would hold far more than
                // the inflated limit.
                v.shrink_to_fit();
                v
            }
            m => return Err(format!("{name}: compression method {m} is not supported (only stored and deflate)")),
        };
        total = total.saturating_add(bytes.len() as u64);
        if total > max_bytes {
            return Err(inflated_too_large(max_bytes));
        }
        out.push((clean(&name), bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip of `n` central-directory entries, all pointing at one deflated local entry that
    /// inflates to nothing but declares `declared` bytes.
    fn overlapping_zip(n: u16, declared: u32) -> Vec<u8> {
        let data = [3u8, 0]; // an empty deflate stream
        let fields = |v: &mut Vec<u8>| {
            v.extend_from_slice(&8u16.to_le_bytes()); // deflate
            v.extend_from_slice(&[0, 0, 0x21, 0, 0, 0, 0, 0]); // time, date, crc
            v.extend_from_slice(&2u32.to_le_bytes());
            v.extend_from_slice(&declared.to_le_bytes());
            v.extend_from_slice(&6u16.to_le_bytes()); // name length
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        let mut zip = b"PK\x03\x04\x14\0\0\0".to_vec();
        fields(&mut zip);
        zip.extend_from_slice(b"a.json");
        zip.extend_from_slice(&data);
        let at = u32::try_from(zip.len()).unwrap();
        let mut central = Vec::new();
        for _ in 0..n {
            central.extend_from_slice(b"PK\x01\x02\x14\0\x14\0\0\0");
            fields(&mut central);
            central.extend_from_slice(&[0; 14]); // comment, disk, attributes, local offset 0
            central.extend_from_slice(b"a.json");
        }
        zip.extend_from_slice(&central);
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        zip.extend_from_slice(&n.to_le_bytes());
        zip.extend_from_slice(&n.to_le_bytes());
        zip.extend_from_slice(&u32::try_from(central.len()).unwrap().to_le_bytes());
        zip.extend_from_slice(&at.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    #[test]
    fn entries_hold_what_they_inflate_not_what_they_declare() {
        // Found with the `archive` fuzz harness (fuzz/regressions/archive/zip-declared-sizes):
        // each entry kept the 1 MiB its header declared, so 65,535 of them held 64 GiB of
        // reservations (830 MB resident) for a 3.4 MB file.
        let zip = overlapping_zip(64, 1 << 30);
        let entries = read("zip", &zip, 1 << 20).unwrap();
        assert_eq!(entries.len(), 64);
        let held: usize = entries.iter().map(|(_, b)| b.capacity()).sum();
        assert!(held < 1 << 20, "{held} bytes held for 64 empty entries");
        assert!(entries.iter().all(|(n, b)| n == "a.json" && b.is_empty()));
    }
}
