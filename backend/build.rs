//! New migration and frontend files do not trigger a rebuild of `embed_migrations!` and
//! rust-embed on their own.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    // rust-embed only notices edits to files it already embeds, not added or removed ones.
    println!("cargo:rerun-if-changed=../frontend");
}
