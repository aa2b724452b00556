//! Output directories that appear whole or not at all, and never at the cost of a user's files.
//!
//! Files are written into `.NAME.partial` beside the destination; `commit` moves the finished
//! directory into place. If the process dies first, the destination is untouched and only the
//! hidden `.partial` directory is left, which the next run replaces.
//!
//! faultline replaces only what it wrote: a finished output holds a manifest
//! ([`MANIFEST`]) listing its files (an output from before manifests is recognised by holding a
//! run's files and nothing else). A destination that is a file, or a directory holding
//! anything the manifest does not list (a user's own files, or a directory faultline never
//! wrote), is refused before anything is written.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The file listing what faultline wrote into an output directory.
pub const MANIFEST: &str = ".faultline-output";

/// The files a run writes, for outputs written before manifests existed.
const RUN_FILES: &[&str] = &[
    "requests.csv",
    "attempts.csv",
    "events.csv",
    "summary.json",
    "scenario.toml",
    "latency.png",
    "latency.svg",
    "lag.png",
    "lag.svg",
];

/// Why an output directory cannot be used.
#[derive(Debug)]
pub enum OutputError {
    /// The destination holds something faultline did not write: the user's, never touched.
    NotOurs {
        /// The destination.
        dest: PathBuf,
        /// Why, e.g. `is a file` or `holds notes.md, which faultline did not write`.
        why: String,
    },
    /// The file system refused.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::NotOurs { dest, why } => write!(
                f,
                "{}: {why}; faultline replaces only its own outputs: choose another --out, or move those files away",
                dest.display()
            ),
            OutputError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for OutputError {}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |error| OutputError::Io { path: path.to_path_buf(), error }
}

/// Checks that `dest` may become (or be replaced by) a faultline output: it does not exist, is
/// an empty directory, or is a faultline output holding only the files its manifest lists.
pub fn check_destination(dest: &Path) -> Result<(), OutputError> {
    let not_ours = |why: String| Err(OutputError::NotOurs { dest: dest.to_path_buf(), why });
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(dest)(e)),
    };
    if !meta.is_dir() {
        return not_ours("exists and is not a directory".to_owned());
    }
    let mut present = Vec::new();
    files_under(dest, "", &mut present)?;
    if present.is_empty() {
        return Ok(());
    }
    let listed = match std::fs::read_to_string(dest.join(MANIFEST)) {
        Ok(text) => text.lines().map(str::to_owned).collect::<Vec<_>>(),
        // An output from before manifests: a run's files and nothing else.
        Err(_)
            if present.iter().all(|f| RUN_FILES.contains(&f.as_str()))
                && present.iter().any(|f| f == "summary.json") =>
        {
            return Ok(());
        }
        Err(_) => {
            return not_ours("is a directory that faultline did not write (it has no output manifest)".to_owned())
        }
    };
    present.sort();
    // Every file, at any depth, must be one faultline listed (a user's notes inside a run
    // directory of a sweep are theirs too): in this manifest, or in the manifest of the nested
    // output that holds it (a report written later into one experiment of a course is listed
    // in that experiment's manifest).
    let listed_nested = |f: &str| {
        f.match_indices('/').any(|(i, _)| {
            let (dir, rest) = (&f[..i], &f[i + 1..]);
            std::fs::read_to_string(dest.join(dir).join(MANIFEST)).is_ok_and(|t| t.lines().any(|l| l == rest))
        })
    };
    let foreign = present.iter().find(|f| f.as_str() != MANIFEST && !listed.contains(f) && !listed_nested(f));
    match foreign {
        Some(foreign) => not_ours(format!("holds {foreign}, which faultline did not write")),
        None => Ok(()),
    }
}

/// Every file under `dir`, as paths relative to it with `/` between parts, into `out`.
fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), OutputError> {
    for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().map_err(io_at(dir))?;
        if kind.is_dir() {
            files_under(&entry.path(), &format!("{name}/"), out)?;
        } else {
            out.push(name);
        }
    }
    Ok(())
}

/// A directory being written.
#[derive(Debug)]
pub struct Staging {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
    /// Kept when abandoned (a resumable sweep's finished seeds).
    keep: bool,
    /// An unfinished `.partial` of other work was replaced when this one started.
    replaced_other: bool,
}

impl Staging {
    /// Starts writing what will become `dest`, after [`check_destination`].
    pub fn new(dest: &Path) -> Result<Staging, OutputError> {
        check_destination(dest)?;
        let name = dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| OutputError::NotOurs {
            dest: dest.to_path_buf(),
            why: "is not a directory name".to_owned(),
        })?;
        let tmp = dest.with_file_name(format!(".{name}.partial"));
        if tmp.exists() {
            // Left by an interrupted run of ours.
            std::fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        Ok(Staging { dest: dest.to_path_buf(), tmp, committed: false, keep: false, replaced_other: false })
    }

    /// Starts or resumes writing what will become `dest`, for work identified by `key` (kept
    /// in the file `key_file`). A `.partial` directory left by an interrupted run with the
    /// same key is kept, with everything in it, and kept again if this run is abandoned too;
    /// one with another key is replaced. A finished `dest` holding another key is refused:
    /// it is another experiment's output.
    pub fn resume(dest: &Path, key_file: &str, key: &str) -> Result<Staging, OutputError> {
        Staging::resume_inner(dest, key_file, key, false)
    }

    /// As [`Staging::resume`], for work that replaces an earlier version of itself (an edited
    /// experiment rerun into its own directory): a finished `dest` holding another key is
    /// replaced when this one commits, instead of refused. It must still be faultline's.
    pub fn resume_replacing(dest: &Path, key_file: &str, key: &str) -> Result<Staging, OutputError> {
        Staging::resume_inner(dest, key_file, key, true)
    }

    fn resume_inner(dest: &Path, key_file: &str, key: &str, replace: bool) -> Result<Staging, OutputError> {
        if let Some(there) = std::fs::read_to_string(dest.join(key_file)).ok().filter(|_| !replace) {
            if there != key {
                return Err(OutputError::NotOurs {
                    dest: dest.to_path_buf(),
                    why: format!("holds another experiment (its {key_file} differs)"),
                });
            }
        }
        check_destination(dest)?;
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let tmp = dest.with_file_name(format!(".{name}.partial"));
        let same = std::fs::read_to_string(tmp.join(key_file)).is_ok_and(|k| k == key);
        if !same {
            let other = tmp.join(key_file).is_file();
            let mut fresh = Staging::new(dest)?;
            fresh.keep = true;
            fresh.replaced_other = other;
            std::fs::write(fresh.tmp.join(key_file), key).map_err(io_at(&fresh.tmp))?;
            return Ok(fresh);
        }
        Ok(Staging { dest: dest.to_path_buf(), tmp, committed: false, keep: true, replaced_other: false })
    }

    /// Whether starting replaced an unfinished `.partial` of other work (another sweep
    /// interrupted into the same `--out`): its finished parts are gone, which the user should
    /// hear about.
    pub fn replaced_other(&self) -> bool {
        self.replaced_other
    }

    /// Where to write files now.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Writes the manifest and moves the finished directory into place, replacing an earlier
    /// faultline output there.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let mut files = Vec::new();
        files_under(&self.tmp, "", &mut files)?;
        files.retain(|f| f != MANIFEST);
        files.sort();
        let manifest = files.iter().map(|f| format!("{f}\n")).collect::<String>();
        std::fs::write(self.tmp.join(MANIFEST), manifest).map_err(io_at(&self.tmp))?;
        // Checked again: something may have appeared there while the run went on.
        check_destination(&self.dest)?;
        if self.dest.exists() {
            let old = self.tmp.with_extension("old");
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io_at(&old))?;
            }
            std::fs::rename(&self.dest, &old).map_err(io_at(&self.dest))?;
            std::fs::rename(&self.tmp, &self.dest).map_err(io_at(&self.dest))?;
            std::fs::remove_dir_all(&old).map_err(io_at(&old))?;
        } else {
            if let Some(parent) = self.dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            std::fs::rename(&self.tmp, &self.dest).map_err(io_at(&self.dest))?;
        }
        self.committed = true;
        Ok(self.dest.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed && !self.keep {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(label: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("faultline-staging-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        base
    }

    #[test]
    fn appears_only_on_commit_and_replaces_the_old_one() {
        let base = base("commit");
        let dest = base.join("run");
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

    #[test]
    fn a_file_listed_by_a_nested_output_is_faultlines_and_a_file_nobody_listed_is_not() {
        let base = base("nested");
        // A course: its experiment is an output of its own inside it.
        let course = base.join("course");
        let s = Staging::new(&course).unwrap();
        let inner = Staging::new(&s.path().join("exp")).unwrap();
        std::fs::write(inner.path().join("experiment.json"), "{}").unwrap();
        inner.commit().unwrap();
        s.commit().unwrap();
        // A report written later into the experiment is listed in the experiment's manifest.
        std::fs::write(course.join("exp/report.ko.html"), "<html>").unwrap();
        let manifest = course.join("exp").join(MANIFEST);
        let listed = std::fs::read_to_string(&manifest).unwrap() + "report.ko.html\n";
        std::fs::write(&manifest, listed).unwrap();
        assert!(check_destination(&course).is_ok(), "{:?}", check_destination(&course));
        // A user's file beside it is listed nowhere.
        std::fs::write(course.join("exp/notes.md"), "mine").unwrap();
        assert!(check_destination(&course).unwrap_err().to_string().contains("exp/notes.md"));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn regression_never_deletes_or_hides_what_faultline_did_not_write() {
        let base = base("foreign");
        // A user's directory with their own file.
        let mine = base.join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join("notes.md"), "keep me").unwrap();
        let e = Staging::new(&mine).unwrap_err();
        assert!(e.to_string().contains("did not write"), "{e}");
        // A file in the way: refused, nothing written, nothing hidden.
        let file = base.join("report");
        std::fs::write(&file, "a user's file").unwrap();
        assert!(Staging::new(&file).unwrap_err().to_string().contains("not a directory"));
        // A faultline output the user added a file to.
        let out = base.join("out");
        let s = Staging::new(&out).unwrap();
        std::fs::write(s.path().join("summary.json"), "{}").unwrap();
        s.commit().unwrap();
        std::fs::write(out.join("my-analysis.txt"), "mine").unwrap();
        assert!(Staging::new(&out).is_err());
        // ... or to one of its subdirectories (a sweep's runs/seed-N).
        let deep = base.join("deep");
        let s = Staging::new(&deep).unwrap();
        std::fs::create_dir_all(s.path().join("runs/seed-1")).unwrap();
        std::fs::write(s.path().join("runs/seed-1/events.csv"), "t_us").unwrap();
        s.commit().unwrap();
        assert!(check_destination(&deep).is_ok(), "faultline's own nested files");
        std::fs::write(deep.join("runs/seed-1/notes.txt"), "mine").unwrap();
        let e = Staging::new(&deep).unwrap_err();
        assert!(e.to_string().contains("runs/seed-1/notes.txt"), "{e}");
        // An output from before manifests (a run's files only) is faultline's.
        let old = base.join("old");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("summary.json"), "{}").unwrap();
        std::fs::write(old.join("requests.csv"), "").unwrap();
        assert!(check_destination(&old).is_ok());
        std::fs::write(old.join("thesis.tex"), "").unwrap();
        assert!(check_destination(&old).is_err());
        let names: Vec<String> =
            std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "nothing hidden or left behind: {names:?}");
        assert_eq!(std::fs::read_to_string(mine.join("notes.md")).unwrap(), "keep me");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a user's file");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
