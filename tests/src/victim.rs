//! What the `sync-victim` process writes (see `src/bin/sync_victim.rs` and `tests/sync_kill.rs`): its
//! mutations are numbered, and each one's content follows from its number alone, so that the test
//! knows what a victim killed between saving a mutation and reporting it had saved.

use quartier_core::domain::mutation::{FavourPost, ProductAdjustStock};
use quartier_core::domain::{FavourKind, Op};

/// The victim's mutation number `index`: even numbers restock `product` by 1 to 9 (a restock is never
/// refused), odd ones post the favour `favour-INDEX`.
pub fn planned(index: u64, product: &str) -> Op {
    if index % 2 == 0 {
        ProductAdjustStock { id: product.to_owned(), delta: stock_move(index) }.into()
    } else {
        FavourPost {
            id: format!("favour-{index}"),
            kind: FavourKind::Ask,
            title: format!("Favour {index}"),
            details: String::new(),
            category: "garden".into(),
            window: None,
            cell: None,
        }
        .into()
    }
}

/// The restock of an even `index`.
pub fn stock_move(index: u64) -> i64 {
    i64::try_from(index % 9).unwrap_or(0) + 1
}
