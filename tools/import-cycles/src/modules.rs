//! The module tree of a crate: which file holds each module, what each module defines, and
//! the `use` items and paths its code names (collected by [`crate::collect`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::collect::{collect_module_references, NamedPath, UseItem};
use crate::report::LoadError;

/// Index of a module in [`CrateTree::modules`].
pub(crate) type ModuleId = usize;
/// Index of a file in [`CrateTree::files`].
pub(crate) type FileId = usize;

/// One module (file module or inline `mod x { ... }`).
#[derive(Debug, Default)]
pub(crate) struct Module {
    /// The module path from the crate root (`[]` for the root).
    pub(crate) path: Vec<String>,
    /// The file holding the module's items.
    pub(crate) file: FileId,
    /// The enclosing module (none for the root).
    pub(crate) parent: Option<ModuleId>,
    /// Child modules by name.
    pub(crate) children: BTreeMap<String, ModuleId>,
    /// Names of the items the module defines (types, functions, traits, constants, macros).
    pub(crate) items: BTreeSet<String>,
    /// The module's `use` items (top level and inside function bodies).
    pub(crate) uses: Vec<UseItem>,
    /// The multi-segment paths its code names (outside `use` items).
    pub(crate) paths: Vec<NamedPath>,
}

/// A parsed crate: its files and modules.
#[derive(Debug, Default)]
pub(crate) struct CrateTree {
    /// The directory of the root file; file names are reported relative to it.
    pub(crate) source_root: PathBuf,
    /// Every source file of the crate.
    pub(crate) files: Vec<PathBuf>,
    /// Every module; index 0 is the crate root.
    pub(crate) modules: Vec<Module>,
}

impl CrateTree {
    /// Reads the crate whose root file is `root_file` and every module file it declares.
    pub(crate) fn load(root_file: &Path) -> Result<Self, LoadError> {
        let source_root = root_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut tree = CrateTree {
            source_root,
            ..CrateTree::default()
        };
        let syntax = parse_file(root_file)?;
        let file = tree.add_file(root_file);
        tree.modules.push(Module {
            file,
            ..Module::default()
        });
        // The root file's child modules live next to it.
        let child_dir = root_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        tree.add_items(0, &syntax.items, &child_dir, Some(&child_dir))?;
        Ok(tree)
    }

    /// The file's name relative to the crate's source root, with `/` separators.
    pub(crate) fn file_name(&self, file: FileId) -> String {
        let path = &self.files[file];
        let relative = path.strip_prefix(&self.source_root).unwrap_or(path);
        relative
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn add_file(&mut self, path: &Path) -> FileId {
        self.files.push(path.to_path_buf());
        self.files.len() - 1
    }

    /// Records the items of `module`; `child_dir` is where its non-inline child modules'
    /// files are looked for, `file_dir` the folder of its file when the items are the file's
    /// top level (a `#[path]` there is relative to it).
    fn add_items(
        &mut self,
        module: ModuleId,
        items: &[syn::Item],
        child_dir: &Path,
        file_dir: Option<&Path>,
    ) -> Result<(), LoadError> {
        for item in items {
            if let syn::Item::Mod(declaration) = item {
                self.add_child_module(module, declaration, child_dir, file_dir)?;
            } else if let Some(name) = defined_name(item) {
                self.modules[module].items.insert(name);
            }
        }
        let (uses, paths) = collect_module_references(items);
        self.modules[module].uses.extend(uses);
        self.modules[module].paths.extend(paths);
        Ok(())
    }

    fn add_child_module(
        &mut self,
        parent: ModuleId,
        declaration: &syn::ItemMod,
        parent_child_dir: &Path,
        parent_file_dir: Option<&Path>,
    ) -> Result<(), LoadError> {
        let name = declaration.ident.to_string();
        let mut path = self.modules[parent].path.clone();
        path.push(name.clone());
        let explicit_path = path_attribute(&declaration.attrs);
        let id = self.modules.len();
        match &declaration.content {
            Some((_, items)) => {
                // An inline module: same file; its own file children go one folder down.
                let file = self.modules[parent].file;
                self.modules.push(Module {
                    path,
                    file,
                    parent: Some(parent),
                    ..Module::default()
                });
                self.modules[parent].children.insert(name.clone(), id);
                let child_dir = match explicit_path {
                    Some(explicit) => parent_child_dir.join(explicit),
                    None => parent_child_dir.join(&name),
                };
                self.add_items(id, items, &child_dir, None)
            }
            None => {
                let file_path = match explicit_path {
                    Some(explicit) => parent_file_dir.unwrap_or(parent_child_dir).join(explicit),
                    None => find_module_file(parent_child_dir, &name)?,
                };
                let syntax = parse_file(&file_path)?;
                let file = self.add_file(&file_path);
                self.modules.push(Module {
                    path,
                    file,
                    parent: Some(parent),
                    ..Module::default()
                });
                self.modules[parent].children.insert(name.clone(), id);
                let child_dir = if is_mod_rs(&file_path) {
                    file_path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default()
                } else {
                    parent_child_dir.join(&name)
                };
                let file_dir = file_path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                self.add_items(id, &syntax.items, &child_dir, Some(&file_dir))
            }
        }
    }
}

fn parse_file(path: &Path) -> Result<syn::File, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    syn::parse_file(&text).map_err(|source| LoadError::Parse {
        file: path.to_path_buf(),
        message: source.to_string(),
    })
}

/// `name.rs` or `name/mod.rs` in `dir`.
fn find_module_file(dir: &Path, name: &str) -> Result<PathBuf, LoadError> {
    let flat = dir.join(format!("{name}.rs"));
    if flat.is_file() {
        return Ok(flat);
    }
    let folder = dir.join(name).join("mod.rs");
    if folder.is_file() {
        return Ok(folder);
    }
    Err(LoadError::MissingModule {
        module: name.to_string(),
        dir: dir.to_path_buf(),
    })
}

/// Whether the file's child modules live in its own folder (`lib.rs`, `main.rs`, `mod.rs`).
fn is_mod_rs(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|name| name.to_str()),
        Some("mod.rs" | "lib.rs" | "main.rs")
    )
}

fn path_attribute(attributes: &[syn::Attribute]) -> Option<String> {
    attributes.iter().find_map(|attribute| {
        let syn::Meta::NameValue(pair) = &attribute.meta else {
            return None;
        };
        if !pair.path.is_ident("path") {
            return None;
        }
        match &pair.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        }
    })
}

/// The name an item defines in its module's namespace, if any.
fn defined_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(item) => &item.ident,
        syn::Item::Enum(item) => &item.ident,
        syn::Item::Fn(item) => &item.sig.ident,
        syn::Item::Macro(item) => item.ident.as_ref()?,
        syn::Item::Static(item) => &item.ident,
        syn::Item::Struct(item) => &item.ident,
        syn::Item::Trait(item) => &item.ident,
        syn::Item::TraitAlias(item) => &item.ident,
        syn::Item::Type(item) => &item.ident,
        syn::Item::Union(item) => &item.ident,
        _ => return None,
    };
    Some(ident.to_string())
}
