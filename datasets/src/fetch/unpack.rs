//! An OGB archive unpacked into OGB's layout (`DATA_DIR/ogbn_arxiv/raw/edge.csv.gz`, ...) all at
//! once: into a hidden folder beside the target, flushed, then renamed into place, so a reader
//! never sees half a dataset and an interrupted run leaves only the hidden folder (removed by
//! the next run) and the archive (unpacked again by the next run).

use std::fs::File;
use std::path::Path;

use super::FetchError;

/// Unpacks `archive` (a zip whose top folder is `root`) into `data_dir/dir`, then removes the
/// archive. Refuses members that would land outside the folder, and links.
pub(crate) fn unpack(archive: &Path, data_dir: &Path, root: &str, dir: &str, marker: &str) -> Result<(), FetchError> {
    let target = data_dir.join(dir);
    if target.exists() {
        let message = format!(
            "already there, but without {marker}: an unfinished copy? move it away and run this again (the archive {} \
             is kept)",
            archive.display()
        );
        return Err(FetchError::File { path: target, message });
    }
    let scratch = data_dir.join(format!(".{dir}.unpacking"));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| FetchError::io(&scratch, &e))?;
    }
    let result = unpack_into(archive, &scratch).and_then(|()| {
        let unpacked = scratch.join(root);
        if !unpacked.join(marker).is_file() {
            let message = format!("not the expected archive: it holds no {root}/{marker}");
            return Err(FetchError::File { path: archive.to_owned(), message });
        }
        std::fs::rename(&unpacked, &target).map_err(|e| FetchError::io(&target, &e))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    if let Ok(d) = File::open(data_dir) {
        let _ = d.sync_all();
    }
    std::fs::remove_file(archive).map_err(|e| FetchError::io(archive, &e))
}

fn unpack_into(archive: &Path, scratch: &Path) -> Result<(), FetchError> {
    let bad = |message: String| FetchError::File { path: archive.to_owned(), message };
    let file = File::open(archive).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| bad(format!("not a zip archive ({e}): a damaged download? remove it and run this again")))?;
    std::fs::create_dir_all(scratch).map_err(|e| FetchError::io(scratch, &e))?;
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| bad(format!("member {i}: {e}")))?;
        let name = member.name().to_owned();
        let Some(relative) = member.enclosed_name() else {
            return Err(bad(format!("member '{name}' would land outside the folder: refused")));
        };
        let path = scratch.join(relative);
        if member.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| FetchError::io(&path, &e))?;
            continue;
        }
        if member.is_symlink() {
            return Err(bad(format!("member '{name}' is a link: refused")));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FetchError::io(&path, &e))?;
        }
        let mut out = File::create(&path).map_err(|e| FetchError::io(&path, &e))?;
        std::io::copy(&mut member, &mut out).map_err(|e| bad(format!("member '{name}': {e}")))?;
        out.sync_all().map_err(|e| FetchError::io(&path, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn unpacks_into_ogbs_layout_and_removes_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("arxiv.zip");
        write_zip(&archive, &[("arxiv/raw/edge.csv.gz", b"e"), ("arxiv/split/time/train.csv.gz", b"t")]);
        unpack(&archive, dir.path(), "arxiv", "ogbn_arxiv", "raw/edge.csv.gz").unwrap();
        assert_eq!(std::fs::read(dir.path().join("ogbn_arxiv/raw/edge.csv.gz")).unwrap(), b"e");
        assert_eq!(std::fs::read(dir.path().join("ogbn_arxiv/split/time/train.csv.gz")).unwrap(), b"t");
        assert!(!archive.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("ogbn_arxiv")]);
    }

    #[test]
    fn refuses_escaping_members_wrong_archives_and_garbage_leaving_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("arxiv.zip");
        for (members, expected) in [
            (&[("../evil", &b"x"[..])][..], "outside the folder"),
            (&[("other/raw/edge.csv.gz", &b"x"[..])][..], "holds no arxiv/raw/edge.csv.gz"),
        ] {
            write_zip(&archive, members);
            let err = unpack(&archive, dir.path(), "arxiv", "ogbn_arxiv", "raw/edge.csv.gz").unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
            assert!(archive.exists() && !dir.path().join("ogbn_arxiv").exists());
            assert!(!dir.path().join(".ogbn_arxiv.unpacking").exists());
        }
        std::fs::write(&archive, b"<html>not found</html>").unwrap();
        let err = unpack(&archive, dir.path(), "arxiv", "ogbn_arxiv", "raw/edge.csv.gz").unwrap_err();
        assert!(err.to_string().contains("not a zip archive"), "{err}");
    }
}
