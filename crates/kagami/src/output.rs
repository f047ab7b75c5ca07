//! Where the report goes. A file is written under a temporary name and renamed
//! when complete, so a failed or interrupted run never leaves a truncated
//! report where a previous good one was; a JSON-lines stream is written in
//! place so it can be followed while the scan runs.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub(crate) struct Output {
    writer: Box<dyn Write>,
    rename: Option<(PathBuf, PathBuf)>,
}

impl Output {
    pub(crate) fn open(path: Option<&Path>, stream: bool) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Self {
                writer: Box::new(BufWriter::new(io::stdout())),
                rename: None,
            });
        };
        let target = if stream {
            path.to_owned()
        } else {
            temporary_name(path)
        };
        let file =
            File::create(&target).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        Ok(Self {
            writer: Box::new(BufWriter::new(file)),
            rename: (!stream).then(|| (target, path.to_owned())),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        &mut *self.writer
    }

    pub(crate) fn commit(mut self) -> Result<(), String> {
        self.writer.flush().map_err(|e| e.to_string())?;
        if let Some((from, to)) = self.rename.take() {
            std::fs::rename(&from, &to)
                .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))?;
        }
        Ok(())
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}
