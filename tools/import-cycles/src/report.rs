//! Checking one crate and reporting its cycles.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::graph::shortest_loop;
use crate::modules::CrateTree;
use crate::resolve::{cyclic_components, Resolver};

/// Why a crate could not be checked.
#[derive(Debug)]
pub enum LoadError {
    /// A source file could not be read.
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A source file is not valid Rust.
    Parse {
        /// The file.
        file: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// `mod name;` with neither `name.rs` nor `name/mod.rs`.
    MissingModule {
        /// The module's name.
        module: String,
        /// Where its file was looked for.
        dir: PathBuf,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { file, source } => {
                write!(f, "cannot read {}: {source}", file.display())
            }
            LoadError::Parse { file, message } => {
                write!(f, "cannot parse {}: {message}", file.display())
            }
            LoadError::MissingModule { module, dir } => write!(
                f,
                "module `{module}` has no {module}.rs nor {module}/mod.rs in {}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// One import cycle: the files of a strongly connected component and one loop through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Every file of the component, relative to the crate's source root, sorted.
    pub files: Vec<String>,
    /// One loop: (file, the path it names that imports the next file), the last entry's
    /// path leading back to the first file.
    pub loop_path: Vec<(String, String)>,
    /// Every import between two files of the component: (from, path named, to).
    pub imports: Vec<(String, String, String)>,
}

/// What the checker found in one crate.
#[derive(Debug, Clone)]
pub struct CrateReport {
    /// The crate's source root (the folder of its root file).
    pub source_root: PathBuf,
    /// How many source files the crate has.
    pub files: usize,
    /// How many imports between different files.
    pub imports: usize,
    /// Every cycle.
    pub cycles: Vec<Cycle>,
}

/// Builds the import graph of the crate whose root file is `root_file` and finds its cycles.
pub fn check_crate(root_file: &Path) -> Result<CrateReport, LoadError> {
    let tree = CrateTree::load(root_file)?;
    let imports = Resolver::new(&tree).imports();
    let mut successors = vec![Vec::new(); tree.files.len()];
    for &(from, to) in imports.keys() {
        successors[from].push(to);
    }
    let mut cycles: Vec<Cycle> = cyclic_components(tree.files.len(), &imports)
        .into_iter()
        .map(|component| {
            let mut files: Vec<String> = component.iter().map(|&f| tree.file_name(f)).collect();
            files.sort();
            let start = component
                .iter()
                .copied()
                .min_by_key(|&file| tree.file_name(file))
                .unwrap_or_default();
            let nodes = shortest_loop(&successors, &component, start);
            let loop_path = nodes
                .windows(2)
                .map(|pair| {
                    let written = imports
                        .get(&(pair[0], pair[1]))
                        .cloned()
                        .unwrap_or_default();
                    (tree.file_name(pair[0]), written)
                })
                .collect();
            let mut inside: Vec<(String, String, String)> = imports
                .iter()
                .filter(|((from, to), _)| component.contains(from) && component.contains(to))
                .map(|((from, to), written)| {
                    (tree.file_name(*from), written.clone(), tree.file_name(*to))
                })
                .collect();
            inside.sort();
            Cycle {
                files,
                loop_path,
                imports: inside,
            }
        })
        .collect();
    cycles.sort_by(|a, b| a.files.cmp(&b.files));
    Ok(CrateReport {
        source_root: tree.source_root.clone(),
        files: tree.files.len(),
        imports: imports.len(),
        cycles,
    })
}

impl fmt::Display for CrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} files, {} imports between files, {} import cycle(s)",
            self.source_root.display(),
            self.files,
            self.imports,
            self.cycles.len()
        )?;
        for (number, cycle) in self.cycles.iter().enumerate() {
            writeln!(
                f,
                "  cycle {} ({} files): {}",
                number + 1,
                cycle.files.len(),
                cycle.files.join(", ")
            )?;
            write!(f, "    loop:")?;
            for (file, written) in &cycle.loop_path {
                write!(f, " {file} --[{written}]-->")?;
            }
            let first = cycle.loop_path.first().map(|(file, _)| file.as_str());
            writeln!(f, " {}", first.unwrap_or(""))?;
            writeln!(f, "    imports inside the cycle:")?;
            for (from, written, to) in &cycle.imports {
                writeln!(f, "      {from} -> {to} ({written})")?;
            }
        }
        Ok(())
    }
}
