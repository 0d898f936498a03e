//! From the paths a module names to the files defining what they name.

use std::collections::{BTreeMap, BTreeSet};

use crate::modules::{CrateTree, FileId, ModuleId};

/// How deep re-exports are followed before giving up (re-export loops, glob chains).
const MAX_REEXPORT_DEPTH: usize = 32;

/// An import between two files, with the path that makes it (the first one found).
pub(crate) type Imports = BTreeMap<(FileId, FileId), String>;

/// What a `use` binding in a module refers to.
#[derive(Debug, Clone)]
enum Binding {
    /// An absolute path inside the crate.
    Internal(Vec<String>),
    /// Something outside the crate (`std`, another crate).
    External,
}

/// Where a path leads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// An item defined in this file (or the longest module prefix's file when the item is
    /// not found).
    File(FileId),
    /// A module as such (`use crate::sdam;`): its items are what count, not its file.
    Module(ModuleId),
    /// Outside the crate.
    External,
}

/// The resolver: per module, what each `use` binds and which globs it imports.
pub(crate) struct Resolver<'tree> {
    tree: &'tree CrateTree,
    bindings: Vec<BTreeMap<String, Binding>>,
    globs: Vec<Vec<Vec<String>>>,
}

impl<'tree> Resolver<'tree> {
    /// Absolutizes every module's `use` items.
    pub(crate) fn new(tree: &'tree CrateTree) -> Self {
        let mut bindings = vec![BTreeMap::new(); tree.modules.len()];
        let mut globs = vec![Vec::new(); tree.modules.len()];
        for (module, info) in tree.modules.iter().enumerate() {
            for item in &info.uses {
                let absolute = absolutize(tree, module, &item.segments, &BTreeMap::new());
                match (&item.binding, absolute) {
                    (Some(name), Some(path)) => {
                        bindings[module].insert(name.clone(), Binding::Internal(path));
                    }
                    (Some(name), None) => {
                        bindings[module].insert(name.clone(), Binding::External);
                    }
                    (None, Some(path)) => globs[module].push(path),
                    (None, None) => {}
                }
            }
        }
        Resolver {
            tree,
            bindings,
            globs,
        }
    }

    /// Every import between two different files of the crate.
    pub(crate) fn imports(&self) -> Imports {
        let mut imports = Imports::new();
        for (module, info) in self.tree.modules.iter().enumerate() {
            let from = info.file;
            let mut add = |target: Target, written: &[String]| {
                let to = match target {
                    Target::File(file) => file,
                    Target::Module(module) => self.tree.modules[module].file,
                    Target::External => return,
                };
                if to != from {
                    imports
                        .entry((from, to))
                        .or_insert_with(|| written.join("::"));
                }
            };
            for item in info.uses.iter().filter(|item| !item.reexport) {
                let Some(path) = absolutize(self.tree, module, &item.segments, &BTreeMap::new())
                else {
                    continue;
                };
                match (self.resolve(&path, 0), &item.binding) {
                    // Importing a module's name is no import of its file: the paths through
                    // that name are resolved on their own below.
                    (Target::Module(_), Some(_)) => {}
                    (target, _) => add(target, &item.segments),
                }
            }
            let local = &self.bindings[module];
            for named in &info.paths {
                if let Some(path) = absolutize(self.tree, module, &named.segments, local) {
                    add(self.resolve(&path, 0), &named.segments);
                }
            }
        }
        imports
    }

    /// Follows `path` (absolute, from the crate root) through modules and re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Target {
        if depth > MAX_REEXPORT_DEPTH {
            return Target::External;
        }
        let mut current = 0;
        for (index, segment) in path.iter().enumerate() {
            let module = &self.tree.modules[current];
            if let Some(&child) = module.children.get(segment) {
                current = child;
                continue;
            }
            if module.items.contains(segment) {
                return Target::File(module.file);
            }
            let rest = &path[index + 1..];
            match self.bindings[current].get(segment) {
                Some(Binding::Internal(target)) => {
                    return self.resolve(&joined(target, rest), depth + 1);
                }
                Some(Binding::External) => return Target::External,
                None => {}
            }
            for glob in &self.globs[current] {
                let found = self.resolve(&joined(glob, &path[index..]), depth + 1);
                if matches!(found, Target::File(file) if self.defines(file, glob, segment)) {
                    return found;
                }
            }
            // Not found: the longest module prefix that exists.
            return Target::File(module.file);
        }
        Target::Module(current)
    }

    /// Whether a glob import of `glob` really provides `name` (and the resolution did not just
    /// fall back to the glob's module file).
    fn defines(&self, file: FileId, glob: &[String], name: &str) -> bool {
        let mut current = 0;
        for segment in glob {
            match self.tree.modules[current].children.get(segment) {
                Some(&child) => current = child,
                None => return true,
            }
        }
        let module = &self.tree.modules[current];
        module.file != file
            || module.items.contains(name)
            || self.bindings[current].contains_key(name)
    }
}

fn joined(prefix: &[String], rest: &[String]) -> Vec<String> {
    prefix.iter().chain(rest).cloned().collect()
}

/// The absolute module path of a path written in `module`, or `None` when it leads outside
/// the crate. `local` are the module's `use` bindings (empty while the bindings are built).
fn absolutize(
    tree: &CrateTree,
    module: ModuleId,
    segments: &[String],
    local: &BTreeMap<String, Binding>,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let mut current = module;
    let mut rest = segments;
    match first.as_str() {
        "crate" => return Some(segments[1..].to_vec()),
        "self" | "super" => {
            while let Some(segment) = rest.first() {
                match segment.as_str() {
                    "self" => {}
                    "super" => current = tree.modules[current].parent?,
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => {
            if !tree.modules[module].children.contains_key(first) {
                return match local.get(first) {
                    Some(Binding::Internal(target)) => Some(joined(target, &segments[1..])),
                    _ => None,
                };
            }
        }
    }
    Some(joined(&tree.modules[current].path, rest))
}

/// The files of the crate that import each other in a loop: the strongly connected
/// components of more than one file (Tarjan's algorithm, iterative).
pub(crate) fn cyclic_components(file_count: usize, imports: &Imports) -> Vec<BTreeSet<FileId>> {
    let mut successors = vec![Vec::new(); file_count];
    for &(from, to) in imports.keys() {
        successors[from].push(to);
    }
    crate::graph::strongly_connected(&successors)
        .into_iter()
        .filter(|component| component.len() > 1)
        .collect()
}
