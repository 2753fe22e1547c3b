//! The module tree of one crate, read from its sources, and the resolution of the paths its
//! modules name to the modules they lead to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::ext::IdentExt as _;
use syn::visit::Visit;
use syn::{Ident, Item, ItemMod, UseTree};

use crate::Result;

/// How many imports a path is followed through before resolution gives up (import loops).
const MAX_DEPTH: usize = 16;

/// A path a module names, where it is written.
#[derive(Debug, Clone)]
pub(super) struct Reference {
    /// The module whose code holds it.
    pub(super) from: usize,
    pub(super) segments: Vec<String>,
    /// The file, relative to the workspace root, and the line.
    pub(super) file: String,
    pub(super) line: usize,
}

/// The modules of a crate; index 0 is the root.
#[derive(Default)]
pub(super) struct Tree {
    pub(super) modules: Vec<Module>,
    pub(super) references: Vec<Reference>,
}

/// One module: where it sits in the tree, and the names it declares and imports.
#[derive(Default)]
pub(super) struct Module {
    pub(super) name: String,
    parent: Option<usize>,
    /// Child modules in declaration order, and by name.
    pub(super) children: Vec<usize>,
    child_names: BTreeMap<String, usize>,
    /// Names of the other items declared here (types, functions, constants, macros...).
    items: BTreeSet<String>,
    /// Names brought in by `use`, each with the path it stands for; and glob imports' paths.
    imports: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

impl Tree {
    /// Parses the crate whose root is `lib` (its `mod x;` files beside it), and collects the
    /// paths every module names.
    pub(super) fn load(workspace: &Path, lib: &Path) -> Result<Self> {
        let src = lib.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let mut loader = Loader { workspace, tree: Tree::default() };
        loader.load_file(None, "", lib, &src, &src)?;
        Ok(loader.tree)
    }

    /// The module `segments` names from module `from`: the deepest module its prefix walks
    /// through. `None` when its first segment is no module of this crate.
    pub(super) fn resolve(&self, from: usize, segments: &[String], depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (start, rest) = self.start(from, segments)?;
        Some(self.walk(start, rest, depth))
    }

    /// Where a path starts: `crate`, `self`, one or more `super`, or a child of `from`.
    fn start<'s>(&self, from: usize, segments: &'s [String]) -> Option<(usize, &'s [String])> {
        let (first, rest) = segments.split_first()?;
        match first.as_str() {
            "crate" => Some((0, rest)),
            "self" => Some((from, rest)),
            "super" => {
                let mut at = self.modules[from].parent?;
                let mut rest = rest;
                while let Some((next, after)) = rest.split_first()
                    && next == "super"
                {
                    at = self.modules[at].parent?;
                    rest = after;
                }
                Some((at, rest))
            }
            _ if self.modules[from].child_names.contains_key(first) => Some((from, segments)),
            _ => None,
        }
    }

    /// Follows `segments` from module `at` through child modules and imports.
    fn walk(&self, mut at: usize, segments: &[String], depth: usize) -> usize {
        for (index, segment) in segments.iter().enumerate() {
            let module = &self.modules[at];
            if let Some(&child) = module.child_names.get(segment) {
                at = child;
                continue;
            }
            if module.items.contains(segment) {
                return at;
            }
            if let Some(target) = module.imports.get(segment) {
                let path: Vec<String> = target.iter().chain(&segments[index + 1..]).cloned().collect();
                return self.resolve(at, &path, depth + 1).unwrap_or(at);
            }
            for glob in &module.globs {
                if let Some(source) = self.resolve(at, glob, depth + 1)
                    && source != at
                    && self.modules[source].declares(segment)
                    && depth < MAX_DEPTH
                {
                    return self.walk(source, &segments[index..], depth + 1);
                }
            }
            return at;
        }
        at
    }

    /// The sibling pair a reference from `from` to `to` is an edge between: the children of
    /// their closest common ancestor on the way to each. `None` when one contains the other.
    pub(super) fn siblings(&self, from: usize, to: usize) -> Option<(usize, usize)> {
        let (a, b) = (self.ancestry(from), self.ancestry(to));
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        Some((*a.get(common)?, *b.get(common)?))
    }

    /// The root, then each module down to `module`.
    fn ancestry(&self, module: usize) -> Vec<usize> {
        let (mut chain, mut at) = (vec![module], module);
        while let Some(parent) = self.modules[at].parent {
            chain.push(parent);
            at = parent;
        }
        chain.reverse();
        chain
    }

    /// `a::b::c` below the root; the root itself is `crate`.
    pub(super) fn path_of(&self, module: usize) -> String {
        let names: Vec<&str> =
            self.ancestry(module).iter().skip(1).map(|&m| self.modules[m].name.as_str()).collect();
        if names.is_empty() { "crate".to_string() } else { names.join("::") }
    }
}

impl Module {
    /// Whether `name` is a child module, an item or an import of this module.
    fn declares(&self, name: &str) -> bool {
        self.child_names.contains_key(name) || self.items.contains(name) || self.imports.contains_key(name)
    }
}

/// Builds a [`Tree`] from the source files.
struct Loader<'a> {
    workspace: &'a Path,
    tree: Tree,
}

impl Loader<'_> {
    /// Parses `file` as module `name` under `parent`; `children` is where its `mod x;` files
    /// are, `base` what its `#[path]` attributes are relative to.
    fn load_file(
        &mut self,
        parent: Option<usize>,
        name: &str,
        file: &Path,
        children: &Path,
        base: &Path,
    ) -> Result<usize> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let parsed = syn::parse_file(&text)
            .map_err(|e| format!("{}:{}: {e}", file.display(), e.span().start().line))?;
        self.load_items(parent, name, &parsed.items, file, children, base)
    }

    /// Adds module `name` with `items` (written in `file`) and, recursively, its children.
    fn load_items(
        &mut self,
        parent: Option<usize>,
        name: &str,
        items: &[Item],
        file: &Path,
        children: &Path,
        base: &Path,
    ) -> Result<usize> {
        let index = self.tree.modules.len();
        self.tree.modules.push(Module { name: name.to_string(), parent, ..Module::default() });
        if let Some(parent) = parent {
            let module = &mut self.tree.modules[parent];
            module.children.push(index);
            module.child_names.entry(name.to_string()).or_insert(index);
        }
        let shown = display(self.workspace, file);
        let mut collector = Collector { module: index, file: &shown, references: Vec::new() };
        for item in items {
            match item {
                Item::Mod(_) => {}
                Item::Use(item) => {
                    self.declare_imports(index, &item.tree);
                    collector.visit_item_use(item);
                }
                item => {
                    if let Some(ident) = item_name(item) {
                        self.tree.modules[index].items.insert(ident.unraw().to_string());
                    }
                    collector.visit_item(item);
                }
            }
        }
        // The module's own references first, then its children's: examples come in source order.
        self.tree.references.extend(collector.references);
        for item in items {
            if let Item::Mod(child) = item {
                self.load_module(index, child, file, children, base)?;
            }
        }
        Ok(index)
    }

    /// Loads a child module declared in module `parent`: inline, or from its file.
    fn load_module(
        &mut self,
        parent: usize,
        item: &ItemMod,
        file: &Path,
        children: &Path,
        base: &Path,
    ) -> Result {
        let name = item.ident.unraw().to_string();
        let path = path_attribute(item);
        if let Some((_, items)) = &item.content {
            let dir = children.join(path.unwrap_or_else(|| name.clone()));
            self.load_items(Some(parent), &name, items, file, &dir, &dir)?;
            return Ok(());
        }
        let source = match &path {
            Some(path) => base.join(path.as_str()),
            None => {
                let flat = children.join(format!("{name}.rs"));
                let nested = children.join(&name).join("mod.rs");
                if flat.is_file() || !nested.is_file() { flat } else { nested }
            }
        };
        if !source.is_file() {
            return Err(format!("{}: `mod {name};` has no file {}", file.display(), source.display()));
        }
        let dir = source.parent().map_or_else(|| children.to_path_buf(), Path::to_path_buf);
        // A `#[path]` file owns its directory, like `mod.rs`; `x.rs` keeps its children in `x/`.
        let own =
            if path.is_some() || source.ends_with("mod.rs") { dir.clone() } else { children.join(&name) };
        self.load_file(Some(parent), &name, &source, &own, &dir)?;
        Ok(())
    }

    /// Records the names a module-level `use` brings into module `module`.
    fn declare_imports(&mut self, module: usize, tree: &UseTree) {
        let mut leaves = Vec::new();
        use_leaves(tree, &mut Vec::new(), &mut leaves);
        let module = &mut self.tree.modules[module];
        for leaf in leaves {
            match leaf.binding {
                Binding::Name(name) => {
                    module.imports.insert(name, leaf.segments);
                }
                Binding::Glob => module.globs.push(leaf.segments),
                Binding::Unnamed => {}
            }
        }
    }
}

/// Collects the paths one module's code names, without descending into its child modules.
struct Collector<'a> {
    module: usize,
    file: &'a str,
    references: Vec<Reference>,
}

impl Collector<'_> {
    fn push(&mut self, segments: Vec<String>, line: usize) {
        self.references.push(Reference { from: self.module, segments, file: self.file.to_string(), line });
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    /// A `mod` inside a function body is not in the module tree; module-level ones are loaded
    /// as modules of their own.
    fn visit_item_mod(&mut self, _: &'ast ItemMod) {}

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_some() {
            return;
        }
        let mut leaves = Vec::new();
        use_leaves(&item.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            self.push(leaf.segments, leaf.line);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        // One segment alone never names another module's item (a child module cannot be a
        // value or a type), and is often a local variable.
        if path.leading_colon.is_none() && path.segments.len() >= 2 {
            let segments = path.segments.iter().map(|s| s.ident.unraw().to_string()).collect();
            let line = path.segments[0].ident.span().start().line;
            self.push(segments, line);
        }
        syn::visit::visit_path(self, path);
    }
}

/// One path a `use` tree names, flattened out of its groups.
struct Leaf {
    segments: Vec<String>,
    binding: Binding,
    line: usize,
}

/// The name a `use` leaf binds in its module.
enum Binding {
    Name(String),
    Glob,
    /// `as _`.
    Unnamed,
}

/// Flattens `tree` (under `prefix`) into its leaves: `a::{b, c::*}` is `a::b` and `a::c::*`.
fn use_leaves(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<Leaf>) {
    let leaf = |prefix: &[String], ident: &Ident, binding: Binding| {
        let mut segments = prefix.to_vec();
        if ident != "self" {
            segments.push(ident.unraw().to_string());
        }
        Leaf { segments, binding, line: ident.span().start().line }
    };
    match tree {
        UseTree::Path(path) => {
            prefix.push(path.ident.unraw().to_string());
            use_leaves(&path.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(name) => {
            let bound = if name.ident == "self" { prefix.last().cloned() } else { None };
            let bound = bound.unwrap_or_else(|| name.ident.unraw().to_string());
            out.push(leaf(prefix, &name.ident, Binding::Name(bound)));
        }
        UseTree::Rename(rename) => {
            let binding = if rename.rename == "_" {
                Binding::Unnamed
            } else {
                Binding::Name(rename.rename.unraw().to_string())
            };
            out.push(leaf(prefix, &rename.ident, binding));
        }
        UseTree::Glob(glob) => {
            let line = glob.star_token.spans[0].start().line;
            out.push(Leaf { segments: prefix.clone(), binding: Binding::Glob, line });
        }
        UseTree::Group(group) => {
            for tree in &group.items {
                use_leaves(tree, prefix, out);
            }
        }
    }
}

/// The name an item declares in its module's namespace, if any.
fn item_name(item: &Item) -> Option<&Ident> {
    match item {
        Item::Const(i) => Some(&i.ident),
        Item::Enum(i) => Some(&i.ident),
        Item::ExternCrate(i) => Some(i.rename.as_ref().map_or(&i.ident, |(_, r)| r)),
        Item::Fn(i) => Some(&i.sig.ident),
        Item::Macro(i) => i.ident.as_ref(),
        Item::Static(i) => Some(&i.ident),
        Item::Struct(i) => Some(&i.ident),
        Item::Trait(i) => Some(&i.ident),
        Item::TraitAlias(i) => Some(&i.ident),
        Item::Type(i) => Some(&i.ident),
        Item::Union(i) => Some(&i.ident),
        _ => None,
    }
}

/// The value of a `#[path = "..."]` attribute.
fn path_attribute(item: &ItemMod) -> Option<String> {
    item.attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
            ..
        }) => Some(s.value()),
        _ => None,
    })
}

/// `file` relative to the workspace root, for messages.
pub(super) fn display(workspace: &Path, file: &Path) -> String {
    let relative: PathBuf =
        file.strip_prefix(workspace).map_or_else(|_| file.to_path_buf(), Path::to_path_buf);
    relative.display().to_string()
}
