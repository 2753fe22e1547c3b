//! `cargo xtask modules`: no import cycles between the modules of the SDK and its ports.
//!
//! Reads each crate's sources with `syn` (nothing is built): the module tree from the `mod`
//! declarations under `src/lib.rs` (files, `#[path]` files and inline modules, test modules
//! included), and every path a module names, in `use` trees and in code. A path is resolved
//! from its first segment (`crate`, `self`, `super`, or a child module of the module it is
//! in) as deep as the module tree goes, through the names modules import (so the root's
//! `pub use error::Error` makes `crate::Error` a reference to `error`). Anything else (other
//! crates, local items) is not a reference to a module of the crate.
//!
//! The rule: among the child modules of any one module, code in one child's subtree that names
//! a module in another's subtree is an edge between the two, and these edges form no cycle.
//! References from a module into its own descendants, or up to its ancestors, are no edge.
//!
//! Never: builds or changes the crates, or follows paths inside macro invocations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use crate::Result;

mod tree;

use tree::{Reference, Tree, display};

/// The crates checked: the name printed, and the crate's directory in the workspace.
const CRATES: [(&str, &str); 6] = [
    ("anchormq", "sdk"),
    ("anchormq-std", "ports/std"),
    ("anchormq-smoltcp", "ports/smoltcp"),
    ("anchormq-esp32c3", "ports/esp32c3"),
    ("anchormq-riscv-virt", "ports/riscv-virt"),
    ("anchormq-sntp", "ports/sntp"),
];

/// `cargo xtask modules`: prints each crate's top-level module graph and its import cycles;
/// fails if any crate has one.
pub fn run(root: &Path) -> Result {
    let mut failed = Vec::new();
    for (name, dir) in CRATES {
        let graph = Graph::load(root, name, &root.join(dir))?;
        print!("{}", graph.render());
        if !graph.cycles().is_empty() {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("import cycles between modules in {}", failed.join(", ")))
    }
}

/// One crate's module tree, and the edges between sibling modules with an example of each.
struct Graph {
    name: String,
    root_file: String,
    tree: Tree,
    /// Resolved references to modules of the crate, counted.
    references: usize,
    /// `(a, b)`: code under sibling `a` names a module under `b`; the first such reference.
    edges: BTreeMap<(usize, usize), Reference>,
}

impl Graph {
    /// Parses the crate in `dir` (root `src/lib.rs`) and resolves every path it names.
    fn load(workspace: &Path, name: &str, dir: &Path) -> Result<Self> {
        let lib = dir.join("src/lib.rs");
        let tree = Tree::load(workspace, &lib)?;
        let mut edges = BTreeMap::new();
        let mut references = 0;
        for reference in &tree.references {
            let Some(to) = tree.resolve(reference.from, &reference.segments, 0) else { continue };
            references += 1;
            if let Some(pair) = tree.siblings(reference.from, to) {
                edges.entry(pair).or_insert_with(|| reference.clone());
            }
        }
        let root_file = display(workspace, &lib);
        Ok(Self { name: name.to_string(), root_file, tree, references, edges })
    }

    /// The top-level module graph, then `no import cycles` or every cycle.
    fn render(&self) -> String {
        let mut out = format!(
            "{} ({}): {} modules, {} references to them\n",
            self.name,
            self.root_file,
            self.tree.modules.len(),
            self.references
        );
        for &module in &self.tree.modules[0].children {
            let uses: Vec<&str> = self.tree.modules[0]
                .children
                .iter()
                .filter(|&&other| self.edges.contains_key(&(module, other)))
                .map(|&other| self.tree.modules[other].name.as_str())
                .collect();
            let uses = if uses.is_empty() { "(nothing)".to_string() } else { uses.join(", ") };
            out.push_str(&format!("  {} -> {uses}\n", self.tree.modules[module].name));
        }
        let cycles = self.cycles();
        if cycles.is_empty() {
            out.push_str(&format!("{}: no import cycles\n", self.name));
        }
        for cycle in cycles {
            out.push_str(&self.render_cycle(&cycle));
            out.push('\n');
        }
        out
    }

    /// `crate: a -> b (file:line path) -> a (file:line path)`.
    fn render_cycle(&self, cycle: &[usize]) -> String {
        let mut out = format!("{}: {}", self.name, self.tree.path_of(cycle[0]));
        for pair in cycle.windows(2) {
            let example = &self.edges[&(pair[0], pair[1])];
            out.push_str(&format!(
                " -> {} ({}:{} {})",
                self.tree.path_of(pair[1]),
                example.file,
                example.line,
                example.segments.join("::")
            ));
        }
        out
    }

    /// Cycles among siblings, at every level: for each strongly connected component of two or
    /// more siblings, shortest cycles through its members until each is on one. Each cycle
    /// starts and ends at the same module.
    fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles = Vec::new();
        for module in &self.tree.modules {
            for component in self.components(&module.children) {
                let mut covered = BTreeSet::new();
                for &start in &component {
                    if covered.contains(&start) {
                        continue;
                    }
                    if let Some(cycle) = self.shortest_cycle(start, &component) {
                        covered.extend(cycle.iter().copied());
                        cycles.push(cycle);
                    }
                }
            }
        }
        cycles
    }

    /// The strongly connected components of two or more among `siblings`, in declaration order.
    fn components(&self, siblings: &[usize]) -> Vec<Vec<usize>> {
        let reach: BTreeMap<usize, BTreeSet<usize>> =
            siblings.iter().map(|&s| (s, self.reachable(s, siblings))).collect();
        let mut seen = BTreeSet::new();
        let mut components = Vec::new();
        for &a in siblings {
            if seen.contains(&a) {
                continue;
            }
            let component: Vec<usize> =
                siblings.iter().copied().filter(|b| reach[&a].contains(b) && reach[b].contains(&a)).collect();
            seen.extend(component.iter().copied());
            if component.len() >= 2 {
                components.push(component);
            }
        }
        components
    }

    /// The siblings reachable from `start` along edges (`start` itself only through a cycle).
    fn reachable(&self, start: usize, siblings: &[usize]) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(at) = stack.pop() {
            for &next in siblings {
                if self.edges.contains_key(&(at, next)) && found.insert(next) {
                    stack.push(next);
                }
            }
        }
        found
    }

    /// The shortest path from `start` back to itself within `component`, breadth first.
    fn shortest_cycle(&self, start: usize, component: &[usize]) -> Option<Vec<usize>> {
        let mut previous: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            for &next in component {
                if !self.edges.contains_key(&(at, next)) {
                    continue;
                }
                if next == start {
                    let mut back = Vec::new();
                    let mut node = at;
                    while node != start {
                        back.push(node);
                        node = *previous.get(&node)?;
                    }
                    let mut cycle = vec![start];
                    cycle.extend(back.into_iter().rev());
                    cycle.push(start);
                    return Some(cycle);
                }
                if let std::collections::btree_map::Entry::Vacant(entry) = previous.entry(next) {
                    entry.insert(at);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A crate written to a fresh directory: `files` are `(path under src/, text)`.
    struct Synthetic(PathBuf);

    impl Synthetic {
        fn new(name: &str, files: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir().join(format!("xtask-modules-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for (path, text) in files {
                let path = dir.join("src").join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Self(dir)
        }

        fn graph(&self) -> Graph {
            Graph::load(&self.0, "synthetic", &self.0).unwrap()
        }
    }

    impl Drop for Synthetic {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl Graph {
        /// Every sibling edge as `a -> b`, with module paths.
        fn edge_names(&self) -> Vec<String> {
            let name = |m: &usize| self.tree.path_of(*m);
            self.edges.keys().map(|(a, b)| format!("{} -> {}", name(a), name(b))).collect()
        }

        fn cycle_lines(&self) -> Vec<String> {
            self.cycles().iter().map(|c| self.render_cycle(c)).collect()
        }
    }

    #[test]
    fn a_cycle_through_a_use_group_is_found_with_an_example_per_edge() {
        let krate = Synthetic::new(
            "group",
            &[
                ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
                ("a.rs", "use crate::{\n    b::Thing,\n    c,\n};\npub struct A;\n"),
                ("b.rs", "pub struct Thing;\nfn f() -> crate::a::A { crate::a::A }\n"),
                ("c.rs", ""),
            ],
        );
        let graph = krate.graph();
        assert_eq!(graph.edge_names(), ["a -> b", "a -> c", "b -> a"]);
        assert_eq!(
            graph.cycle_lines(),
            ["synthetic: a -> b (src/a.rs:2 crate::b::Thing) -> a (src/b.rs:2 crate::a::A)"]
        );
        assert!(graph.render().contains("  a -> b, c\n  b -> a\n  c -> (nothing)\n"));
    }

    #[test]
    fn repeated_super_resolves_from_the_module_it_is_written_in() {
        let krate = Synthetic::new(
            "super",
            &[
                ("lib.rs", "mod a;\nmod b;\n"),
                ("a/mod.rs", "mod inner;\n"),
                ("a/inner.rs", "fn f() { super::super::b::g(); }\n"),
                ("b.rs", "pub fn g() {}\n"),
            ],
        );
        let graph = krate.graph();
        assert_eq!(graph.edge_names(), ["a -> b"]);
        assert!(graph.cycles().is_empty());
    }

    #[test]
    fn a_parent_and_its_child_naming_each_other_is_no_cycle() {
        let krate = Synthetic::new(
            "parent",
            &[
                ("lib.rs", "mod a;\npub struct Root;\nfn f() { a::g(); }\n"),
                ("a.rs", "mod child;\nuse crate::Root;\npub fn g() { child::h(); }\n"),
                ("a/child.rs", "use super::g;\npub fn h() { crate::a::g(); }\n"),
            ],
        );
        let graph = krate.graph();
        assert!(graph.edge_names().is_empty());
        assert!(graph.cycles().is_empty());
        assert!(graph.render().ends_with("synthetic: no import cycles\n"));
    }

    #[test]
    fn a_root_re_export_resolves_to_the_module_that_declares_it() {
        let krate = Synthetic::new(
            "reexport",
            &[
                ("lib.rs", "mod client;\nmod error;\npub use error::{Error, Kind as ErrorKind};\n"),
                ("client.rs", "pub fn f() -> Result<(), crate::Error> { Err(crate::ErrorKind::X.into()) }\n"),
                ("error.rs", "pub struct Error;\npub enum Kind { X }\n"),
            ],
        );
        assert_eq!(krate.graph().edge_names(), ["client -> error"]);
    }

    #[test]
    fn a_path_in_an_inline_test_module_counts_for_its_parent() {
        let krate = Synthetic::new(
            "inline",
            &[
                ("lib.rs", "mod a;\nmod b;\n"),
                ("a.rs", "pub struct A;\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n"),
                ("b.rs", "pub struct B(crate::a::A);\n"),
            ],
        );
        let graph = krate.graph();
        assert_eq!(graph.tree.path_of(graph.edges[&(1, 3)].from), "a::tests");
        assert_eq!(
            graph.cycle_lines(),
            ["synthetic: a -> b (src/a.rs:4 crate::b::B) -> a (src/b.rs:1 crate::a::A)"]
        );
    }

    #[test]
    fn path_attributes_nested_siblings_and_local_names() {
        let krate = Synthetic::new(
            "path",
            &[
                ("lib.rs", "mod x;\n"),
                ("x.rs", "mod p;\nmod q;\n#[path = \"x_tests.rs\"]\nmod tests;\n"),
                // `q` alone is a local variable, not the module.
                ("x/p.rs", "use super::q::Q;\nfn f(q: u8) -> u8 { q }\n"),
                ("x/q.rs", "pub struct Q;\nfn g() { super::p::f(1); }\n"),
                ("x_tests.rs", "use super::p;\n"),
            ],
        );
        let graph = krate.graph();
        assert_eq!(graph.edge_names(), ["x::p -> x::q", "x::q -> x::p", "x::tests -> x::p"]);
        assert_eq!(graph.cycle_lines().len(), 1);
        assert!(graph.cycle_lines()[0].starts_with("synthetic: x::p -> x::q (src/x/p.rs:1 super::q::Q)"));
    }
}
