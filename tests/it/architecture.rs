//! The layering the build checks: every `crate::…` path (in `use` trees and in
//! code, `super::` resolved) of each file under src/ is held against what its
//! top-level module may name. A forbidden `use` added anywhere fails this test
//! with the file, the path and the rule it breaks.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One path a file names, resolved to start at the crate's root.
#[derive(Debug, Clone, PartialEq)]
struct Named {
    path: Vec<String>,
}

/// Collects the absolute paths one file names.
struct Collector {
    /// The module the visitor is in (the file's, then any inline `mod` inside).
    module: Vec<String>,
    named: Vec<Named>,
}

impl Collector {
    /// `crate::a::b`, `super::a`, `self::a` → the path from the crate root;
    /// anything else (a dependency, a local name) is not ours to check.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        let mut rest = segments;
        let mut base: Vec<String> = match first.as_str() {
            "crate" => {
                rest = &segments[1..];
                Vec::new()
            }
            "self" => {
                rest = &segments[1..];
                self.module.clone()
            }
            "super" => {
                let mut base = self.module.clone();
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn name(&mut self, segments: &[String]) {
        if let Some(path) = self.resolve(segments).filter(|path| !path.is_empty()) {
            self.named.push(Named { path });
        }
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(&p.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.name(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.name(&full);
            }
            syn::UseTree::Glob(_) => self.name(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&item.tree, &mut Vec::new());
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.name(&segments);
        syn::visit::visit_path(self, path);
    }

    /// `pub(crate)`, `pub(super)`, `pub(in …)` say who may see, not what is named.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }
}

/// The module a file under src/ is: src/engine/apply/worker.rs → engine::apply::worker.
fn module_of(relative: &Path) -> Vec<String> {
    let mut module: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if module
        .last()
        .is_some_and(|m| m == "mod" || m == "lib" || m == "main")
    {
        module.pop();
    }
    module
}

fn named_in(source: &str, module: Vec<String>) -> Vec<Named> {
    let file = syn::parse_file(source).expect("a source file parses");
    let mut collector = Collector {
        module,
        named: Vec::new(),
    };
    collector.visit_file(&file);
    collector.named
}

/// Test-only files may also name the sandbox (to generate a world to test on).
fn is_test_file(relative: &Path) -> bool {
    let stem = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem == "tests" || stem.ends_with("_tests") || stem.ends_with("_fuzz")
}

/// What a file in `module` may not name: `Some(rule)` when `path` breaks a rule.
fn breaks(module: &[String], path: &[String], test_file: bool) -> Option<&'static str> {
    let layer = module.first().map(String::as_str).unwrap_or("");
    let target = path.first().map(String::as_str).unwrap_or("");
    if target == layer {
        return None;
    }
    // The engine speaks to roles, never to a concrete client: of the connectors it
    // names the roles, the file transport and formats, the error and the ops channel.
    if layer == "engine" && target == "connectors" {
        let item = path.get(1).map(String::as_str).unwrap_or("");
        return (!CONNECTORS_THE_ENGINE_NAMES.contains(&item)).then_some(
            "the engine speaks to the connectors' roles (connectors::roles), never to a concrete client",
        );
    }
    let allowed: &[&str] = match layer {
        "contract" => &["model"],
        "model" => &[],
        "store" => &["model"],
        "connectors" => &["model"],
        "sandbox" => &[],
        "config" => &["contract", "model"],
        "engine" if test_file => &["contract", "model", "store", "connectors", "config", "sandbox"],
        "engine" => &["contract", "model", "store", "connectors", "config"],
        "console" => {
            let handle = ["engine", "operator", "handle"];
            if target == "engine" && path.len() >= 3 && path[..3] == handle {
                return None;
            }
            &["model", "store"]
        }
        _ => return None, // cli, lib.rs and main.rs start whatever a command needs
    };
    if allowed.contains(&target) {
        return None;
    }
    Some(match layer {
        "contract" | "model" => {
            "the contract and the model are pure: they name only each other (model: nothing)"
        }
        "store" => "the store names only the model",
        "connectors" => "the connectors name only the model; policy is handed to them by the engine",
        "sandbox" => "the sandbox is the outside world: it names nothing of the product",
        "config" => "the configuration names only the contract and the model",
        "engine" => {
            "the engine names the contract, model, store, connectors and config, never the console or the sandbox"
        }
        "console" => {
            "the console names the model, store reads and the engine's handle (engine::operator::handle) only"
        }
        _ => "unknown rule",
    })
}

/// What of `crate::connectors` the engine may name.
const CONNECTORS_THE_ENGINE_NAMES: &[&str] = &[
    "roles",
    "inbox",
    "csv_files",
    "ConnectorError",
    "Notifier",
    "ReadBackoff",
];

/// I/O the pure layers must not do.
const IO: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "tokio",
    "reqwest",
    "rusqlite",
];

fn source_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    source_files(src, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src/");
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        let module = module_of(relative);
        for named in named_in(&source, module.clone()) {
            if let Some(rule) = breaks(&module, &named.path, is_test_file(relative)) {
                found.push(format!(
                    "src/{} names crate::{}: {rule}",
                    relative.display(),
                    named.path.join("::")
                ));
            }
        }
        if matches!(module.first().map(String::as_str), Some("contract" | "model")) {
            for (at, line) in source.lines().enumerate() {
                for io in IO {
                    if line.contains(&format!("{io}::")) || line.contains(&format!("use {io};")) {
                        found.push(format!(
                            "src/{}:{} does I/O ({io}): the contract and model are pure",
                            relative.display(),
                            at + 1
                        ));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_layer_names_only_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "{} layering violation(s):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_sees_every_way_of_naming_a_module() {
    let engine_file = vec!["engine".to_string(), "apply".to_string(), "worker".to_string()];
    let source = r#"
        use crate::console::state::State;
        use crate::{store::Store, console};
        use super::super::super::console::draw;
        fn f() { crate::console::run(); }
        mod inner { use super::super::super::super::console::x; }
    "#;
    let console_named: Vec<_> = named_in(source, engine_file.clone())
        .into_iter()
        .filter(|n| breaks(&engine_file, &n.path, false).is_some())
        .map(|n| n.path.join("::"))
        .collect();
    assert_eq!(
        console_named,
        [
            "console::state::State",
            "console",
            "console::draw",
            "console::run",
            "console::x"
        ],
        "each form of naming the console from the engine is caught"
    );
    let console_file = vec!["console".to_string(), "update".to_string()];
    assert!(
        breaks(
            &console_file,
            &[
                "engine".into(),
                "operator".into(),
                "handle".into(),
                "EngineHandle".into()
            ],
            false
        )
        .is_none()
    );
    assert!(
        breaks(
            &console_file,
            &["engine".into(), "operator".into(), "status".into()],
            false
        )
        .is_some()
    );
    let sandbox_file = vec!["sandbox".to_string(), "world".to_string()];
    assert!(breaks(&sandbox_file, &["model".into(), "Employee".into()], false).is_some());
    assert!(breaks(&engine_file, &["sandbox".into(), "world".into()], false).is_some());
    assert!(breaks(&engine_file, &["sandbox".into(), "world".into()], true).is_none());
}

#[test]
fn the_engine_names_roles_never_a_concrete_client() {
    let engine_file = vec!["engine".to_string(), "apply".to_string(), "worker".to_string()];
    let source = r#"
        use crate::connectors::{HrisClient, ScimClient};
        use crate::connectors::roles::{EmployeeSource, LearnerTarget};
        fn f() { let _ = crate::connectors::LrsClient::new(); }
    "#;
    let refused: Vec<_> = named_in(source, engine_file.clone())
        .into_iter()
        .filter_map(|n| breaks(&engine_file, &n.path, false).map(|rule| (n.path.join("::"), rule)))
        .collect();
    let names: Vec<&str> = refused.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "connectors::HrisClient",
            "connectors::ScimClient",
            "connectors::LrsClient::new"
        ],
        "a concrete client named by the engine is caught; the roles pass"
    );
    assert!(refused[0].1.contains("roles"), "{}", refused[0].1);
}
