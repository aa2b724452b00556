//! Output directories that appear whole or not at all.
//!
//! Files are written into `.NAME.partial` beside the destination; `commit` moves the finished
//! directory into place (replacing an older one). If the process dies first, the destination is
//! untouched and only the hidden `.partial` directory is left, which the next run replaces.

use std::io;
use std::path::{Path, PathBuf};

/// A directory being written.
#[derive(Debug)]
pub struct Staging {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl Staging {
    /// Starts writing what will become `dest`.
    pub fn new(dest: &Path) -> io::Result<Staging> {
        let name = dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a directory name", dest.display()))
        })?;
        let tmp = dest.with_file_name(format!(".{name}.partial"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(Staging { dest: dest.to_path_buf(), tmp, committed: false })
    }

    /// Where to write files now.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Moves the finished directory into place.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        if self.dest.exists() {
            let old = self.tmp.with_extension("old");
            if old.exists() {
                std::fs::remove_dir_all(&old)?;
            }
            std::fs::rename(&self.dest, &old)?;
            std::fs::rename(&self.tmp, &self.dest)?;
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&self.tmp, &self.dest)?;
        }
        self.committed = true;
        Ok(self.dest.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_and_replaces_the_old_one() {
        let base = std::env::temp_dir().join(format!("faultline-staging-{}", std::process::id()));
        let dest = base.join("run");
        std::fs::create_dir_all(&base).unwrap();
        let s = Staging::new(&dest).unwrap();
        std::fs::write(s.path().join("a.txt"), "1").unwrap();
        assert!(!dest.exists());
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a.txt")).unwrap(), "1");

        let s = Staging::new(&dest).unwrap();
        std::fs::write(s.path().join("b.txt"), "2").unwrap();
        drop(s); // abandoned: the old output stays as it was
        assert!(dest.join("a.txt").exists() && !dest.join("b.txt").exists());

        let s = Staging::new(&dest).unwrap();
        std::fs::write(s.path().join("b.txt"), "2").unwrap();
        s.commit().unwrap();
        assert!(!dest.join("a.txt").exists() && dest.join("b.txt").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
