//! The typst world of the report: one main source (templates/report.typ),
//! one data file (the view as JSON), the system's fonts, nothing else. File
//! ids are interned once per process and memoised results are evicted after
//! every compile, so rendering many reports in one process stays bounded.

use std::path::Path;
use std::sync::OnceLock;

use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;

use crate::PdfError;

const TEMPLATE: &str = include_str!("../templates/report.typ");

/// Where the fonts come from: Debian's fonts-noto-cjk (Japanese and Latin)
/// and DejaVu, unless KAGAMI_FONT_DIRS (colon-separated) says otherwise.
const FONT_DIRS: &[&str] = &[
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/dejavu",
];

fn file_id(name: &str) -> FileId {
    // A fixed name is always valid.
    let path = VirtualPath::new(name).unwrap_or_else(|e| panic!("virtual path {name}: {e:?}"));
    RootedPath::new(VirtualRoot::Project, path).intern()
}

fn ids() -> (FileId, FileId) {
    static IDS: OnceLock<(FileId, FileId)> = OnceLock::new();
    *IDS.get_or_init(|| (file_id("report.typ"), file_id("data.json")))
}

fn fonts() -> Result<&'static FontStore, PdfError> {
    static FONTS: OnceLock<FontStore> = OnceLock::new();
    if let Some(store) = FONTS.get() {
        return Ok(store);
    }
    let dirs: Vec<String> = match std::env::var("KAGAMI_FONT_DIRS") {
        Ok(list) if !list.is_empty() => list.split(':').map(str::to_owned).collect(),
        _ => FONT_DIRS.iter().map(|d| (*d).to_owned()).collect(),
    };
    let mut store = FontStore::new();
    for dir in &dirs {
        if Path::new(dir).is_dir() {
            store.extend(typst_kit::fonts::scan(Path::new(dir)));
        }
    }
    let has_cjk = store
        .book()
        .families()
        .any(|(family, _)| family.starts_with("Noto Sans CJK"));
    if !has_cjk {
        return Err(PdfError::NoFonts(dirs.join(":")));
    }
    Ok(FONTS.get_or_init(|| store))
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::builder().build()))
}

struct ReportWorld {
    main: Source,
    data: Bytes,
    fonts: &'static FontStore,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        self.fonts.book()
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        let (main, data) = ids();
        if id == data {
            Ok(self.data.clone())
        } else if id == main {
            Ok(Bytes::from_string(self.main.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.font(index)
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

/// The diagnostics, each with its line in the template.
fn describe(world: &ReportWorld, diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            let line = world
                .range(d.span)
                .and_then(|range| world.main.lines().byte_to_line(range.start));
            match line {
                Some(line) => format!("report.typ:{}: {}", line + 1, d.message),
                None => d.message.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(crate) fn typeset(json: Vec<u8>) -> Result<Vec<u8>, PdfError> {
    let (main, _) = ids();
    let world = ReportWorld {
        main: Source::new(main, TEMPLATE.to_owned()),
        data: Bytes::new(json),
        fonts: fonts()?,
    };
    let compiled = typst::compile::<PagedDocument>(&world).output;
    let result = compiled
        .map_err(|errors| PdfError::Typeset(describe(&world, &errors)))
        .and_then(|document| {
            typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default())
                .map_err(|errors| PdfError::Export(describe(&world, &errors)))
        });
    comemo::evict(0);
    result
}
