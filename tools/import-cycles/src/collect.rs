//! What a module's code names: its `use` items, flattened, and the multi-segment paths of its
//! code (types, expressions, patterns, attributes, and `a::b` sequences inside macro calls).

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::Visit;

/// One name brought into scope by a `use` item (a group is flattened into several).
#[derive(Debug, Clone)]
pub(crate) struct UseItem {
    /// The path as written (`crate`, `super`, `self` kept as segments).
    pub(crate) segments: Vec<String>,
    /// The name it binds, or `None` for a glob (`use a::*`).
    pub(crate) binding: Option<String>,
    /// Whether the `use` is visible outside its module (`pub use`, `pub(crate) use`): a
    /// re-export, which is followed when resolving paths but is no import of its own file.
    pub(crate) reexport: bool,
}

/// A path of two segments or more named by code, as written.
#[derive(Debug, Clone)]
pub(crate) struct NamedPath {
    /// The segments (`crate`, `super`, `self` kept).
    pub(crate) segments: Vec<String>,
}

/// The `use` items and the paths named by `items` (nested modules excluded: each module is
/// collected on its own).
pub(crate) fn collect_module_references(items: &[syn::Item]) -> (Vec<UseItem>, Vec<NamedPath>) {
    let mut collector = Collector::default();
    for item in items {
        collector.visit_item(item);
    }
    (collector.uses, collector.paths)
}

#[derive(Default)]
struct Collector {
    uses: Vec<UseItem>,
    paths: Vec<NamedPath>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Its own module: collected separately (a module inside a function body is ignored).
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let reexport = !matches!(item.vis, syn::Visibility::Inherited);
        flatten_use_tree(&item.tree, &mut Vec::new(), reexport, &mut self.uses);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() >= 2 {
            let segments = path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            self.paths.push(NamedPath { segments });
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        collect_token_paths(mac.tokens.clone(), &mut self.paths);
    }
}

fn flatten_use_tree(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    reexport: bool,
    out: &mut Vec<UseItem>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten_use_tree(&path.tree, prefix, reexport, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            let name = name.ident.to_string();
            push_binding(prefix, name.clone(), name, reexport, out);
        }
        syn::UseTree::Rename(rename) => {
            let name = rename.ident.to_string();
            push_binding(prefix, name, rename.rename.to_string(), reexport, out);
        }
        syn::UseTree::Glob(_) => out.push(UseItem {
            segments: prefix.clone(),
            binding: None,
            reexport,
        }),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use_tree(tree, prefix, reexport, out);
            }
        }
    }
}

/// `use a::b::{self}` binds `b` to `a::b`; `use a::b as c` binds `c`.
fn push_binding(
    prefix: &[String],
    last: String,
    binding: String,
    reexport: bool,
    out: &mut Vec<UseItem>,
) {
    let mut segments = prefix.to_vec();
    let binding = if last == "self" {
        if binding != "self" {
            binding
        } else {
            match segments.last() {
                Some(parent) => parent.clone(),
                None => return,
            }
        }
    } else {
        segments.push(last);
        binding
    };
    out.push(UseItem {
        segments,
        binding: Some(binding),
        reexport,
    });
}

/// `a::b::c` sequences in a macro call's tokens (format arguments, `matches!` patterns...).
fn collect_token_paths(tokens: TokenStream, out: &mut Vec<NamedPath>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut index = 0;
    while index < tokens.len() {
        match &tokens[index] {
            TokenTree::Group(group) => {
                collect_token_paths(group.stream(), out);
                index += 1;
            }
            TokenTree::Ident(first) => {
                let mut segments = vec![first.to_string()];
                let mut next = index + 1;
                while let (
                    Some(TokenTree::Punct(colon)),
                    Some(TokenTree::Punct(second)),
                    Some(TokenTree::Ident(segment)),
                ) = (tokens.get(next), tokens.get(next + 1), tokens.get(next + 2))
                {
                    if colon.as_char() != ':'
                        || colon.spacing() != Spacing::Joint
                        || second.as_char() != ':'
                    {
                        break;
                    }
                    segments.push(segment.to_string());
                    next += 3;
                }
                if segments.len() >= 2 {
                    out.push(NamedPath { segments });
                }
                index = next;
            }
            TokenTree::Punct(_) | TokenTree::Literal(_) => index += 1,
        }
    }
}
