//! docs/ARCHITECTURE.md's rules, checked against the sources: the rule table (module → what it
//! may not import) is read from the document itself, so the document and the check cannot drift
//! apart; the three rules that are not about imports are encoded here.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every `.rs` file under `path` (a directory or a single file).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The code of a file without its comments (line comments and doc comments).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal (a URL) is rare in this code base; the
            // comment rule only needs to see imports.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` names `item` as a path segment (`crate::db`, `diesel::`, `actix_web::`).
fn names(code: &str, item: &str) -> bool {
    code.match_indices(item).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + item.len()..].chars().next();
        let starts = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let ends = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        starts && ends
    })
}

/// The rule table of docs/ARCHITECTURE.md: (module, forbidden imports).
fn rules() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(root().join("../docs/ARCHITECTURE.md")).expect("doc");
    let table = doc
        .split("| module | may not import |")
        .nth(1)
        .expect("the rule table in docs/ARCHITECTURE.md");
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let module = cells[0].trim_matches('`').to_owned();
            let forbidden = cells[1]
                .split(',')
                .map(|item| item.trim().trim_matches('`').to_owned())
                .collect();
            (module, forbidden)
        })
        .collect()
}

fn module_path(module: &str) -> PathBuf {
    let src = root().join("src");
    let dir = src.join(module);
    if dir.is_dir() {
        dir
    } else {
        src.join(format!("{module}.rs"))
    }
}

#[test]
fn every_module_imports_only_what_the_architecture_allows() {
    let rules = rules();
    assert!(rules.len() >= 8, "the rule table has {} rows", rules.len());
    let mut violations = Vec::new();
    for (module, forbidden) in &rules {
        let path = module_path(module);
        assert!(
            path.exists(),
            "docs/ARCHITECTURE.md names {module}, which does not exist"
        );
        for file in rust_files(&path) {
            let code = code(&file);
            for item in forbidden {
                if names(&code, item) {
                    violations.push(format!(
                        "{} names {item}",
                        file.strip_prefix(root()).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn only_config_reads_the_environment() {
    for file in rust_files(&root().join("src")) {
        if file.ends_with("src/config.rs") {
            continue;
        }
        let code = code(&file);
        for call in ["env::var", "env::vars", "var_os("] {
            assert!(
                !code.contains(call),
                "{} reads the environment ({call}); add a setting to config.rs instead",
                file.display()
            );
        }
    }
}

#[test]
fn handlers_never_take_a_database_connection() {
    for file in rust_files(&root().join("src/routes")) {
        let code = code(&file);
        for item in ["Conn", "DbPool", "PooledConn", "Db", "diesel", "crate::db"] {
            assert!(
                !names(&code, item),
                "{} names {item}: handlers call use cases, never the database",
                file.display()
            );
        }
    }
}

#[test]
fn only_the_session_module_knows_the_session_state_keys() {
    for file in rust_files(&root().join("src")) {
        if file.ends_with("src/http/session.rs") {
            continue;
        }
        let code = code(&file);
        for marker in [
            "\"actix_identity.",
            "\"latchkey.session\"",
            "\"latchkey.new_key\"",
            "get_session()",
        ] {
            assert!(
                !code.contains(marker),
                "{} uses the session state directly ({marker}); go through http::session",
                file.display()
            );
        }
    }
}

#[test]
fn the_checker_sees_what_it_should() {
    assert!(names("use crate::db::users;", "crate::db"));
    assert!(!names("use crate::dbx;", "crate::db"));
    assert!(names("diesel::prelude::*", "diesel"));
    assert!(!names("my_diesel_thing", "diesel"));
    assert!(!names(&"// use crate::db;".replace("//", ""), "crate::dbx"));
}
