//! New migration files do not trigger a rebuild of `embed_migrations!` on their own.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
